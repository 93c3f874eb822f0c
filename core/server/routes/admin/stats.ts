import type { FastifyInstance } from 'fastify';
import { listBatchJobs } from '../../../batches/index.js';
import type { JobRecord, Store } from '../../../store/index.js';
import type { LiveStats } from '../../liveStats.js';
import { routeDocs } from '../../openapi.js';
import { packageVersion } from '../../packageVersion.js';
import { SseWriter } from '../../sse.js';
import type { RuntimeSnapshot, RuntimeStatsCache } from './runtimeStatsCache.js';
import type { ModelControl, UpstreamState } from './sources.js';
import { modelInfo } from './models.js';
import type { AdminJob, StatsSnapshot } from './wire.js';

export interface StatsDeps {
  live: LiveStats;
  /** The windows of every HTTP worker of the box, merged (`serve --workers N`); absent: `live`. */
  liveAcrossWorkers?: (own: LiveStats) => Promise<LiveStats>;
  runtime: RuntimeStatsCache;
  models?: ModelControl;
  upstreams: () => UpstreamState[];
  store: Store;
}

export function jobView(job: JobRecord): AdminJob {
  return {
    id: job.id,
    kind: job.kind,
    state: job.state,
    progress_done: job.progressDone,
    progress_total: job.progressTotal,
    error: job.error,
    created_at: job.createdAt,
    updated_at: job.updatedAt,
  };
}

/** Builds the /stats snapshot: the rolling windows (memory), the runtime thread's figures
 *  (cached, see RuntimeStatsCache), the circuit breakers, and the unfinished jobs and batches (indexed
 *  queries at most once a second, whatever the number of clients). */
type JobSummary = { id: string; kind: string; state: string; progress_done: number; progress_total: number | null };

export class StatsSnapshots {
  private readonly version = packageVersion();
  private readonly startedAt = performance.now();
  private jobs: JobSummary[] = [];
  private jobsAt = 0;

  constructor(private readonly deps: StatsDeps) {}

  async snapshot(): Promise<StatsSnapshot> {
    const now = Date.now();
    const [runtime, live] = await Promise.all([this.deps.runtime.get(now), this.deps.liveAcrossWorkers?.(this.deps.live) ?? this.deps.live]);
    return this.compose(runtime, live, now, await this.unfinishedJobs(now));
  }

  private compose(runtime: RuntimeSnapshot, live: LiveStats, now: number, jobs: JobSummary[]): StatsSnapshot {
    const files = this.deps.models?.files() ?? [];
    return {
      object: 'stats' as const,
      time: now,
      version: this.version,
      uptime_s: Math.round((performance.now() - this.startedAt) / 100) / 10,
      models: files.map((file) => {
        const info = modelInfo(file, runtime);
        const figures = runtime.runtime.models[file.id];
        const rolling = live.model(file.id);
        return {
          id: info.id,
          kind: info.kind,
          state: info.state,
          backend: info.backend,
          parallel: info.parallel,
          active: figures?.active ?? 0,
          queued: figures?.queuedByPriority ?? { interactive: figures?.queued ?? 0, background: 0 },
          decode_tps: rolling.decode_tps,
          ttft_ms: rolling.ttft_ms,
          memory_bytes: info.memory_bytes,
          size_bytes: info.size_bytes,
          file: info.file,
          context_size: figures?.contextSize ?? null,
          series: rolling.series,
        };
      }),
      totals: live.totals(),
      upstreams: this.deps.upstreams(),
      jobs: jobs.map(({ id, kind, state, progress_done, progress_total }) => ({ id, kind, state, progress_done, progress_total })),
    };
  }

  private async unfinishedJobs(now: number) {
    if (now - this.jobsAt >= 1000) {
      // Batches with work left (validating, in progress, finalizing, cancelling) count as running.
      this.jobs = [...(await this.deps.store.jobs.unfinished()).map(jobView), ...(await listBatchJobs(this.deps.store, { active: true }))];
      this.jobsAt = now;
    }
    return this.jobs;
  }
}

export type { StatsSnapshot };

/** GET /admin/v1/stats and its SSE twin, /admin/v1/stats/stream (a snapshot at once, then every second). */
export function registerStatsRoutes(app: FastifyInstance, snapshots: StatsSnapshots): void {
  // Open streams end when the server starts closing; otherwise close() would wait for them.
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    for (const stop of [...streams]) stop();
    done();
  });

  app.get('/admin/v1/stats', { config: routeDocs({ tags: ['admin'], summary: 'One snapshot of the live figures (rolling one-minute windows)' }) }, () => snapshots.snapshot());

  app.get(
    '/admin/v1/stats/stream',
    { config: routeDocs({ tags: ['admin'], summary: 'The stats snapshot as server-sent events (`event: stats`), at once and then every second' }) },
    async (request, reply) => {
      const sse = new SseWriter(reply);
      sse.open();
      let timer: NodeJS.Timeout | undefined;
      const stop = () => {
        streams.delete(stop);
        clearTimeout(timer);
        sse.end();
      };
      streams.add(stop);
      const send = async () => {
        if (sse.closed) return;
        sse.event('stats', await snapshots.snapshot());
        if (!sse.closed) timer = setTimeout(send, 1000 - (Date.now() % 1000) || 1000);
      };
      reply.raw.once('close', stop);
      await send();
    },
  );
}
