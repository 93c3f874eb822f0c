/** The snapshot of GET /admin/v1/stats and each event of /admin/v1/stats/stream (ADMIN_API.md). */
export interface ModelStats {
  id: string;
  kind: string;
  state: 'loaded' | 'loading' | 'unloaded';
  backend: string | null;
  parallel: number | null;
  active: number;
  queued: { interactive: number; background: number };
  decode_tps: number;
  ttft_ms: { p50: number; p95: number } | null;
  memory_bytes: number | null;
}

export interface StatsSnapshot {
  object: 'stats';
  time: number;
  version: string;
  uptime_s: number;
  models: ModelStats[];
  totals: {
    requests_per_s: number;
    errors_per_s: { '4xx': number; '5xx': number };
    prompt_tokens_per_s: number;
    completion_tokens_per_s: number;
    cache_hit_rate: number | null;
    active_requests: number;
  };
  upstreams: { provider: string; state: 'closed' | 'open' | 'half_open'; failures: number }[];
  jobs: { id: string; kind: string; state: string; progress_done: number; progress_total: number }[];
}

/** Rolling series for the overview charts: the last `size` snapshots. */
export class StatsHistory {
  readonly time: number[] = [];
  readonly requests: number[] = [];
  readonly errors: number[] = [];
  readonly promptTps: number[] = [];
  readonly completionTps: number[] = [];
  readonly ttftP50: (number | null)[] = [];
  readonly ttftP95: (number | null)[] = [];
  readonly queued: number[] = [];
  readonly active: number[] = [];

  constructor(private readonly size = 300) {}

  push(snapshot: StatsSnapshot): void {
    const { totals, models } = snapshot;
    const ttft = models.filter((model) => model.ttft_ms);
    this.add(this.time, snapshot.time / 1000);
    this.add(this.requests, totals.requests_per_s);
    this.add(this.errors, totals.errors_per_s['4xx'] + totals.errors_per_s['5xx']);
    this.add(this.promptTps, totals.prompt_tokens_per_s);
    this.add(this.completionTps, totals.completion_tokens_per_s);
    // The slowest model's figures: a chart per model would not fit a laptop screen.
    this.add(this.ttftP50, ttft.length ? Math.max(...ttft.map((model) => model.ttft_ms!.p50)) : null);
    this.add(this.ttftP95, ttft.length ? Math.max(...ttft.map((model) => model.ttft_ms!.p95)) : null);
    this.add(this.queued, models.reduce((sum, model) => sum + model.queued.interactive + model.queued.background, 0));
    this.add(this.active, models.reduce((sum, model) => sum + model.active, 0));
  }

  private add<T>(series: T[], value: T): void {
    series.push(value);
    if (series.length > this.size) series.shift();
  }
}
