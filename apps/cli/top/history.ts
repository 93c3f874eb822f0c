import type { StatsSnapshot } from './adminClient.js';

export const historySeconds = 120;

/** Two minutes of per-second figures for the sparklines. The snapshot carries the last 60 s
 *  per second; each new snapshot adds the seconds it completed since the last one. */
export class History {
  readonly series = new Map<string, number[]>();
  private lastSecond = -1;

  add(snapshot: StatsSnapshot): void {
    const second = Math.floor(snapshot.time / 1000);
    // Complete seconds only (the current one is still filling): index 58 of each 60-second series.
    const fresh = this.lastSecond < 0 ? 59 : Math.min(59, second - this.lastSecond);
    if (fresh <= 0) return;
    this.lastSecond = second;
    const take = (name: string, values: readonly number[]) => {
      const series = this.series.get(name) ?? [];
      series.push(...values.slice(59 - fresh, 59));
      if (series.length > historySeconds) series.splice(0, series.length - historySeconds);
      this.series.set(name, series);
    };
    take('requests', snapshot.totals.series.requests);
    take('completion_tokens', snapshot.totals.series.completion_tokens);
    take('errors', snapshot.totals.series.errors);
    for (const model of snapshot.models) take(`model:${model.id}`, model.series.completion_tokens);
  }

  get(name: string): number[] {
    return this.series.get(name) ?? [];
  }
}
