/** The snapshot of GET /admin/v1/stats and each event of /admin/v1/stats/stream (ADMIN_API.md). */
import type { StatsModel, StatsSnapshot } from '../../../../core/server/routes/admin/wire';

export type { StatsSnapshot };
export type ModelStats = StatsModel;

/** Rolling series for the overview charts: the last `size` snapshots. */
export class StatsHistory {
  readonly time: number[] = [];
  readonly requests: number[] = [];
  readonly errors: number[] = [];
  readonly promptTps: number[] = [];
  readonly completionTps: number[] = [];
  readonly ttftP50: (number | null)[] = [];
  readonly ttftP95: (number | null)[] = [];
  /** Per model: active and queued sequences, aligned with `time` (null before the model appeared). */
  readonly perModel = new Map<string, { active: (number | null)[]; queued: (number | null)[] }>();

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
    const length = this.time.length;
    for (const model of models) {
      if (model.state === 'unloaded' && !this.perModel.has(model.id)) continue;
      const series = this.perModel.get(model.id) ?? { active: new Array<number | null>(length - 1).fill(null), queued: new Array<number | null>(length - 1).fill(null) };
      this.perModel.set(model.id, series);
    }
    for (const [id, series] of this.perModel) {
      const model = models.find((candidate) => candidate.id === id);
      this.add(series.active, model ? model.active : null);
      this.add(series.queued, model ? model.queued.interactive + model.queued.background : null);
    }
  }

  private add<T>(series: T[], value: T): void {
    series.push(value);
    if (series.length > this.size) series.shift();
  }
}
