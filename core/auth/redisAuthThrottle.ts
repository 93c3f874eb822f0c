import { randomBytes } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import type { Logger } from 'pino';
import { AuthThrottle, authFailureWindowMs, type FailureThrottle } from './authThrottle.js';
import type { Clock } from './clock.js';
import { connectWithin, createRedisClient, luaScript, redisFailureLog } from './redisClient.js';

/** One address's failures: a sorted set of their times (Redis's TIME, so that nodes whose clocks
 *  differ agree), trimmed to the window and expiring with it, in one atomic step.
 *  KEYS[1] the set; ARGV: window ms, limit, a member unique to this failure. Replies with the
 *  milliseconds to wait (0: under the limit), as AuthThrottle.recordFailure. */
const throttleScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
if redis.call('ZCARD', KEYS[1]) <= tonumber(ARGV[2]) then return 0 end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) + window - now)
`;
const runThrottleScript = luaScript(throttleScript);

export interface RedisAuthThrottleOptions {
  url: string;
  /** Prefix of every key (config `redis_prefix`). */
  prefix: string;
  limit: number;
  clock: Clock;
  logger: Logger;
  commandTimeoutMs?: number;
}

/** The failed-auth throttle of several llmsvc nodes (or the workers of one box with redis_url):
 *  every node counts an address's failures in the same Redis set.
 *
 *  When Redis cannot be reached, the count falls back to this process's memory: neither open
 *  (no count at all would let a guesser try freely for as long as Redis is down, which an
 *  attacker may cause) nor closed (a 503 for every bad key would hide the real 401 from
 *  misconfigured clients, and refusing is what happens to the failed attempt anyway). A valid
 *  key is never throttled, and with the Redis limiter down its limited requests get the 503
 *  already; the fallback keeps guessing bounded per process until Redis is back. */
export class RedisAuthThrottle implements FailureThrottle {
  private readonly fallback: AuthThrottle;
  private readonly nodeId = randomBytes(6).toString('hex');
  private sequence = 0;
  private readonly logFailure: (error: unknown) => void;

  private constructor(
    private readonly client: RedisClientType,
    private readonly options: RedisAuthThrottleOptions,
  ) {
    this.fallback = new AuthThrottle(options.limit, options.clock);
    this.logFailure = redisFailureLog(options.logger, 'the failed-auth throttle cannot reach Redis (redis_url): failures are counted per process until it can');
  }

  static async open(options: RedisAuthThrottleOptions): Promise<RedisAuthThrottle> {
    const timeout = options.commandTimeoutMs ?? 2000;
    const client = await createRedisClient(options.url, 'llmsvc-auth-throttle', timeout);
    const throttle = new RedisAuthThrottle(client, options);
    await connectWithin(client, timeout, throttle.logFailure);
    return throttle;
  }

  async recordFailure(address: string): Promise<number> {
    const keys = [`${this.options.prefix}authfail:${address}`];
    const args = [String(authFailureWindowMs), String(this.options.limit), `${this.nodeId}:${(this.sequence++).toString(36)}`];
    try {
      return Number(await runThrottleScript(this.client, keys, args));
    } catch (error) {
      this.logFailure(error);
      return this.fallback.recordFailure(address);
    }
  }

  async dispose(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}
