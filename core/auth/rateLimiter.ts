import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import type { ApiError } from '../errors/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import { Limiter, type QuotaUsage, type TokenReservation } from './limiter.js';
import type { Clock } from './clock.js';

/** An admitted request: it counts against the key's RPM and holds one of its concurrency slots
 *  until `release`. */
export interface Admitted {
  /** Frees the concurrency slot (once; later calls do nothing). */
  release(): void;
  /** The reservation asked for with the admission (`reserveTokens`), if it was granted. */
  reservation?: TokenReservation;
  /** The x-ratelimit-* headers as of the admission. */
  headers: Record<string, string>;
  /** The 429 of a token reservation refused after the request was admitted: the request still
   *  counts, and must still be released, as with a separate `reserve` call. */
  refusal?: ApiError;
}

/** Rate limits, concurrency caps and quota reservations per key. Three implementations: this
 *  process's memory (one node; synchronous, the fastest), Redis (several nodes share exact
 *  limits; every step is a promise) and the primary of `serve --workers N` (the workers of one
 *  box share exact limits over IPC; core/cluster/ipcRateLimiter.ts). Callers handle all of them
 *  without awaiting the synchronous one. */
export interface RateLimiter {
  /** Admits a request or throws the 429 (or, for Redis, the 503 of an unreachable Redis). With
   *  `reserveTokens`, it also reserves that many tokens, as `reserve` would, in the same step. */
  admit(key: ApiKeyRecord, reserveTokens: number | undefined, quota: () => QuotaUsage): Admitted | Promise<Admitted>;
  /** Reserves `tokens` against the key's TPM and token quotas, or throws the 429. */
  reserve(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): TokenReservation | Promise<TokenReservation>;
  dispose(): Promise<void>;
}

const noop = () => {};
const noHeaders: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** The admission of a key with no limits (hasNoLimits), for a shared limiter that skips its store. */
export function unlimitedAdmission(reserveTokens: number | undefined): Admitted {
  return { release: noop, reservation: reserveTokens === undefined ? undefined : { settle: noop }, headers: noHeaders };
}

/** The in-process limiter (core/auth/limiter.ts) behind the RateLimiter interface. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly limiter: Limiter;

  constructor(clock: Clock) {
    this.limiter = new Limiter(clock);
  }

  admit(key: ApiKeyRecord, reserveTokens: number | undefined, quota: () => QuotaUsage): Admitted {
    const release = this.limiter.admit(key);
    let reservation: TokenReservation | undefined;
    let refusal: ApiError | undefined;
    if (reserveTokens !== undefined) {
      try {
        reservation = this.limiter.reserve(key, reserveTokens, quota);
      } catch (error) {
        refusal = error as ApiError;
      }
    }
    return { release, reservation, refusal, headers: this.limiter.headers(key) };
  }

  reserve(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): TokenReservation {
    return this.limiter.reserve(key, tokens, quota);
  }

  async dispose(): Promise<void> {}
}

/** Whether the config keeps the rate limits in Redis: `rate_limits` 'redis', or 'auto' with a `redis_url`. */
export function limitsInRedis(config: Pick<Config, 'rate_limits' | 'redis_url'>): boolean {
  return config.rate_limits === 'redis' || (config.rate_limits === 'auto' && config.redis_url !== undefined);
}

/** The limiter the config asks for: Redis when `rate_limits` is 'redis', or 'auto' with a
 *  `redis_url`; else this process's memory. */
export async function createRateLimiter(
  config: Pick<Config, 'rate_limits' | 'redis_url' | 'redis_prefix' | 'redis_lease_ms'>,
  clock: Clock,
  logger: Logger,
): Promise<RateLimiter> {
  if (!limitsInRedis(config)) return new MemoryRateLimiter(clock);
  if (config.redis_url === undefined) throw new ConfigError('rate_limits is "redis" but no redis_url is set: set redis_url (LLMSVC_REDIS_URL), or rate_limits to "auto" or "memory".');
  const { RedisRateLimiter } = await import('./redisLimiter.js');
  return RedisRateLimiter.open({ url: config.redis_url, prefix: config.redis_prefix, leaseMs: config.redis_lease_ms, logger });
}
