import type { FastifyInstance } from 'fastify';
import type { Clock, KeyService } from '../../../auth/index.js';
import type { RequestLedgerStore, Store } from '../../../store/index.js';
import type { LiveStats } from '../../liveStats.js';
import { registerJobRoutes } from './jobs.js';
import { registerKeyRoutes } from './keys.js';
import { registerModelRoutes } from './models.js';
import { registerRequestRoutes } from './requests.js';
import { RuntimeStatsCache } from './runtimeStatsCache.js';
import type { JobCanceller, ModelControl, UpstreamState } from './sources.js';
import { registerStatsRoutes, StatsSnapshots } from './stats.js';

export type { JobCanceller, LocalModelFile, ModelControl, UpstreamState } from './sources.js';
export { batchJobKind } from './jobs.js';
export type { StatsSnapshot } from './stats.js';

export interface AdminDeps {
  keys: KeyService;
  store: Store;
  ledger: RequestLedgerStore;
  clock: Clock;
  live: LiveStats;
  /** The windows of every HTTP worker of the box, merged (`serve --workers N`). */
  liveAcrossWorkers?: (own: LiveStats) => Promise<LiveStats>;
  /** The local runtimes (absent: no local models listed). */
  models?: ModelControl;
  /** The upstream providers' circuit breakers. */
  upstreams?: () => UpstreamState[];
  /** How to cancel a job, per job kind that can be cancelled. */
  jobCancellers?: ReadonlyMap<string, JobCanceller>;
}

/** The admin API under /admin/v1 (admin keys only; the auth hooks enforce the scope). The CLI,
 *  the terminal UI and the desktop console use it. */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminDeps): void {
  const runtime = new RuntimeStatsCache(deps.models);
  registerKeyRoutes(app, deps);
  registerStatsRoutes(app, new StatsSnapshots({ live: deps.live, ...(deps.liveAcrossWorkers && { liveAcrossWorkers: deps.liveAcrossWorkers }), runtime, models: deps.models, upstreams: deps.upstreams ?? (() => []), store: deps.store }));
  registerModelRoutes(app, deps.models, runtime);
  registerRequestRoutes(app, deps);
  registerJobRoutes(app, { store: deps.store, cancellers: deps.jobCancellers ?? new Map() });
}
