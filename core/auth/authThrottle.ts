import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Clock } from './clock.js';
import { limitsInRedis } from './rateLimiter.js';

export const authFailureWindowMs = 60_000;

/** Slows down key guessing: after `limit` failed authentications from one address within a
 *  minute, that address's failures are 429s with Retry-After until the minute has passed.
 *  Three implementations, as for the rate limiter: this process's memory (one process;
 *  synchronous), the primary of `serve --workers N` (core/cluster/ipcAuthThrottle.ts) and Redis
 *  (several nodes; redisAuthThrottle.ts), so that the limit holds for the box or the fleet, not
 *  per process. Callers handle the synchronous answer without awaiting it. */
export interface FailureThrottle {
  /** Counts one failed authentication from `address` (a scope of the caller's, such as the
   *  console's sign-in, may prefix it to keep its own count); the milliseconds the address must
   *  now wait, or 0 while it is under the limit. */
  recordFailure(address: string): number | Promise<number>;
  dispose(): Promise<void>;
}

/** The failures of one process, in its memory. */
export class AuthThrottle implements FailureThrottle {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly clock: Clock,
  ) {}

  /** Milliseconds the address must wait, or 0. */
  waitMs(address: string): number {
    const recent = this.recent(address);
    return recent.length > this.limit ? recent[0]! + authFailureWindowMs - this.clock() : 0;
  }

  recordFailure(address: string): number {
    const recent = this.recent(address);
    recent.push(this.clock());
    this.failures.set(address, recent);
    return this.waitMs(address);
  }

  private recent(address: string): number[] {
    const now = this.clock();
    const recent = (this.failures.get(address) ?? []).filter((at) => at > now - authFailureWindowMs);
    if (recent.length === 0) this.failures.delete(address);
    return recent;
  }

  async dispose(): Promise<void> {}
}

/** The throttle the config asks for: in Redis when the rate limits are (limitsInRedis), so that
 *  every node shares one count per address; else this process's memory. (The workers of
 *  `serve --workers N` without Redis use the primary's: core/cluster/ipcAuthThrottle.ts.) */
export async function createAuthThrottle(
  config: Pick<Config, 'auth_failure_limit' | 'rate_limits' | 'redis_url' | 'redis_prefix'>,
  clock: Clock,
  logger: Logger,
): Promise<FailureThrottle> {
  if (!limitsInRedis(config) || config.redis_url === undefined) return new AuthThrottle(config.auth_failure_limit, clock);
  const { RedisAuthThrottle } = await import('./redisAuthThrottle.js');
  return RedisAuthThrottle.open({ url: config.redis_url, prefix: config.redis_prefix, limit: config.auth_failure_limit, clock, logger });
}
