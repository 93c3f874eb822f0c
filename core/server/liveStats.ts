/** Rolling one-minute figures for the admin API's /stats, kept in memory: a ring of 60 per-second
 *  buckets, fed once per finished API request (observability) and read by /stats without touching
 *  SQLite. Reading walks at most 60 buckets, so a snapshot costs microseconds however busy the
 *  server is. */

import type { StatsModel, StatsSnapshot } from './routes/admin/wire.js';

export const windowSeconds = 60;

/** TTFT percentiles come from a log-scale histogram per bucket (bins 25% wide from 1 ms to about
 *  30 min) rather than kept samples: merging 60 small histograms is cheap and bounded, where
 *  sorting every sample of a busy minute is not. The answer is within a bin (±12%). */
const ttftBins = 64;
const binGrowth = 1.25;
const logGrowth = Math.log(binGrowth);

function ttftBin(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(ttftBins - 1, Math.floor(Math.log(ms) / logGrowth) + 1);
}

/** A value that stands for a bin: the geometric middle of its bounds. */
function binValue(bin: number): number {
  if (bin === 0) return 1;
  return binGrowth ** (bin - 0.5);
}

interface ModelBucket {
  completionTokens: number;
  ttft: Uint32Array;
  ttftCount: number;
}

class SecondBucket {
  second = -1;
  requests = 0;
  errors4xx = 0;
  errors5xx = 0;
  promptTokens = 0;
  completionTokens = 0;
  cacheHits = 0;
  cacheMisses = 0;
  readonly models = new Map<string, ModelBucket>();

  reset(second: number): void {
    this.second = second;
    this.requests = this.errors4xx = this.errors5xx = this.promptTokens = this.completionTokens = this.cacheHits = this.cacheMisses = 0;
    this.models.clear();
  }
}

export interface FinishedRequest {
  status: number;
  model?: string;
  promptTokens?: number;
  completionTokens?: number;
  ttftMs?: number;
  cacheStatus?: 'hit' | 'miss' | 'bypass';
}

/** The windows' figures, in the admin API's shapes (routes/admin/wire.ts). */
export type TotalsFigures = StatsSnapshot['totals'];
export type ModelFigures = Pick<StatsModel, 'decode_tps' | 'ttft_ms' | 'series'>;

/** One worker's windows as plain data, to be merged with the other workers' (`llmsvc serve
 *  --workers N`: each HTTP worker counts the requests it served). */
export interface LiveStatsExport {
  startedSecond: number;
  active: number;
  buckets: {
    second: number;
    counts: [requests: number, errors4xx: number, errors5xx: number, promptTokens: number, completionTokens: number, cacheHits: number, cacheMisses: number];
    models: [id: string, completionTokens: number, ttft: number[], ttftCount: number][];
  }[];
}

const round = (value: number, places = 2) => Math.round(value * 10 ** places) / 10 ** places;

export class LiveStats {
  private readonly buckets = Array.from({ length: windowSeconds }, () => new SecondBucket());
  private startedSecond: number;
  private active = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.startedSecond = Math.floor(now() / 1000);
  }

  /** The buckets of the last minute and the requests in flight, as plain data (see merge). */
  export(): LiveStatsExport {
    return {
      startedSecond: this.startedSecond,
      active: this.active,
      buckets: this.liveBuckets().map(([, bucket]) => ({
        second: bucket.second,
        counts: [bucket.requests, bucket.errors4xx, bucket.errors5xx, bucket.promptTokens, bucket.completionTokens, bucket.cacheHits, bucket.cacheMisses],
        models: [...bucket.models].map(([id, model]) => [id, model.completionTokens, [...model.ttft], model.ttftCount]),
      })),
    };
  }

  /** The figures of several workers as one: per-second counts and TTFT histograms add up, the
   *  rates are over the time since the first of them started. */
  static merge(exports: readonly LiveStatsExport[], now: () => number = Date.now): LiveStats {
    const merged = new LiveStats(now);
    for (const part of exports) {
      merged.startedSecond = Math.min(merged.startedSecond, part.startedSecond);
      merged.active += part.active;
      for (const { second, counts, models } of part.buckets) {
        const bucket = merged.buckets[second % windowSeconds]!;
        if (bucket.second > second) continue; // older than what that slot holds now
        if (bucket.second !== second) bucket.reset(second);
        bucket.requests += counts[0];
        bucket.errors4xx += counts[1];
        bucket.errors5xx += counts[2];
        bucket.promptTokens += counts[3];
        bucket.completionTokens += counts[4];
        bucket.cacheHits += counts[5];
        bucket.cacheMisses += counts[6];
        for (const [id, completionTokens, ttft, ttftCount] of models) {
          let model = bucket.models.get(id);
          if (!model) {
            model = { completionTokens: 0, ttft: new Uint32Array(ttftBins), ttftCount: 0 };
            bucket.models.set(id, model);
          }
          model.completionTokens += completionTokens;
          model.ttftCount += ttftCount;
          for (let bin = 0; bin < ttftBins; bin++) model.ttft[bin]! += ttft[bin] ?? 0;
        }
      }
    }
    return merged;
  }

  requestStarted(): void {
    this.active++;
  }

  requestEnded(): void {
    if (this.active > 0) this.active--;
  }

  record(request: FinishedRequest): void {
    const bucket = this.current();
    bucket.requests++;
    if (request.status >= 500) bucket.errors5xx++;
    else if (request.status >= 400) bucket.errors4xx++;
    bucket.promptTokens += request.promptTokens ?? 0;
    bucket.completionTokens += request.completionTokens ?? 0;
    if (request.cacheStatus === 'hit') bucket.cacheHits++;
    else if (request.cacheStatus === 'miss') bucket.cacheMisses++;
    // A cached answer was not decoded: it counts in the totals, not in the model's speed or TTFT.
    if (!request.model || request.cacheStatus === 'hit') return;
    let model = bucket.models.get(request.model);
    if (!model) {
      model = { completionTokens: 0, ttft: new Uint32Array(ttftBins), ttftCount: 0 };
      bucket.models.set(request.model, model);
    }
    model.completionTokens += request.completionTokens ?? 0;
    if (request.ttftMs !== undefined) {
      model.ttft[ttftBin(request.ttftMs)]!++;
      model.ttftCount++;
    }
  }

  totals(): TotalsFigures {
    const live = this.liveBuckets();
    const span = this.span();
    let requests = 0, e4 = 0, e5 = 0, prompt = 0, completion = 0, hits = 0, misses = 0;
    const series = { requests: new Array<number>(windowSeconds).fill(0), completion_tokens: new Array<number>(windowSeconds).fill(0), errors: new Array<number>(windowSeconds).fill(0) };
    for (const [index, bucket] of live) {
      requests += bucket.requests;
      e4 += bucket.errors4xx;
      e5 += bucket.errors5xx;
      prompt += bucket.promptTokens;
      completion += bucket.completionTokens;
      hits += bucket.cacheHits;
      misses += bucket.cacheMisses;
      series.requests[index] = bucket.requests;
      series.completion_tokens[index] = bucket.completionTokens;
      series.errors[index] = bucket.errors4xx + bucket.errors5xx;
    }
    return {
      requests_per_s: round(requests / span),
      errors_per_s: { '4xx': round(e4 / span), '5xx': round(e5 / span) },
      prompt_tokens_per_s: round(prompt / span),
      completion_tokens_per_s: round(completion / span),
      cache_hit_rate: hits + misses === 0 ? null : round(hits / (hits + misses), 4),
      active_requests: this.active,
      series,
    };
  }

  model(id: string): ModelFigures {
    const span = this.span();
    let completion = 0;
    let count = 0;
    const histogram = new Uint32Array(ttftBins);
    const series = new Array<number>(windowSeconds).fill(0);
    for (const [index, bucket] of this.liveBuckets()) {
      const model = bucket.models.get(id);
      if (!model) continue;
      completion += model.completionTokens;
      series[index] = model.completionTokens;
      if (model.ttftCount === 0) continue;
      count += model.ttftCount;
      for (let bin = 0; bin < ttftBins; bin++) histogram[bin]! += model.ttft[bin]!;
    }
    return {
      decode_tps: round(completion / span),
      ttft_ms: count === 0 ? null : { p50: round(percentile(histogram, count, 0.5), 1), p95: round(percentile(histogram, count, 0.95), 1) },
      series: { completion_tokens: series },
    };
  }

  /** Models seen in the window (an upstream model has no runtime entry but has figures). */
  modelsSeen(): string[] {
    const ids = new Set<string>();
    for (const [, bucket] of this.liveBuckets()) for (const id of bucket.models.keys()) ids.add(id);
    return [...ids];
  }

  private current(): SecondBucket {
    const second = Math.floor(this.now() / 1000);
    const bucket = this.buckets[second % windowSeconds]!;
    if (bucket.second !== second) bucket.reset(second);
    return bucket;
  }

  /** The buckets of the last minute, each with its place in a series (0 oldest, 59 now). */
  private liveBuckets(): [number, SecondBucket][] {
    const now = Math.floor(this.now() / 1000);
    const live: [number, SecondBucket][] = [];
    for (const bucket of this.buckets) {
      const age = now - bucket.second;
      if (bucket.second >= 0 && age >= 0 && age < windowSeconds) live.push([windowSeconds - 1 - age, bucket]);
    }
    return live;
  }

  /** Seconds the rates are over: a minute, or the time since start when that is shorter (a rate
   *  over the first seconds is not diluted by a minute the server was not up). */
  private span(): number {
    const seconds = Math.floor(this.now() / 1000) - this.startedSecond + 1;
    return Math.min(windowSeconds, Math.max(1, seconds));
  }
}

function percentile(histogram: Uint32Array, count: number, fraction: number): number {
  const rank = Math.ceil(fraction * count);
  let seen = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    seen += histogram[bin]!;
    if (seen >= rank) return binValue(bin);
  }
  return binValue(histogram.length - 1);
}
