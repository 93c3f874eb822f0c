import { randomBytes } from 'node:crypto';
import type { RedisClientType } from '@keyv/redis';
import type { Logger } from 'pino';
import { ApiError } from '../errors/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import {
  concurrencyLimitError,
  hasNoLimits,
  hasTokenQuota,
  quotaError,
  rateLimitHeaders,
  requestLimitError,
  tokenLimitError,
  type QuotaUsage,
  type TokenReservation,
} from './limiter.js';
import { limiterScript } from './redisLimiterScript.js';
import { connectWithin, createRedisClient, luaScript, redisFailureLog } from './redisClient.js';
import { unlimitedAdmission, type Admitted, type RateLimiter } from './rateLimiter.js';

const windowMs = 60_000;
const runLimiterScript = luaScript(limiterScript);

export interface RedisLimiterOptions {
  url: string;
  /** Prefix of every key (config `redis_prefix`). */
  prefix: string;
  /** How long a slot or reservation outlives a node that stopped refreshing it (config `redis_lease_ms`). */
  leaseMs: number;
  logger: Logger;
  /** Longest wait for one Redis call before the request gets the 503. */
  commandTimeoutMs?: number;
}

/** The script's reply: status, detail, then the window's figures (see redisLimiterScript.ts). */
type ScriptReply = [status: number, detail: number, now: number, requests: number, oldestRequestAt: number, tokens: number, oldestTokenAt: number];

const noop = () => {};

/** The limiter of several llmsvc nodes: windows, slots and reservations in Redis, each step one
 *  atomic Lua script, so that limits stay exact however requests spread over the nodes. A slot or
 *  reservation carries a lease deadline that this node refreshes while its request runs; a node
 *  that dies stops refreshing, and its slots free themselves once the lease has passed. When
 *  Redis cannot be reached, requests of keys with limits get a 503: never silently unlimited. */
export class RedisRateLimiter implements RateLimiter {
  /** Ids of the slots and reservations this node holds, by the key whose Redis keys hold them. */
  private readonly held = new Map<string, { keys: string[]; ids: Set<string> }>();
  private readonly nodeId = randomBytes(6).toString('hex');
  private sequence = 0;
  private readonly refreshTimer: NodeJS.Timeout;
  private readonly logFailure: (error: unknown) => void;

  private constructor(
    private readonly client: RedisClientType,
    private readonly options: RedisLimiterOptions,
  ) {
    this.logFailure = redisFailureLog(options.logger, 'the rate limiter cannot reach Redis (redis_url): requests of keys with limits get 503s until it can');
    this.refreshTimer = setInterval(() => this.refresh(), Math.max(100, Math.floor(options.leaseMs / 3)));
    this.refreshTimer.unref();
  }

  /** Connects (waiting at most one command timeout): until Redis answers, limited requests get
   *  the 503; the client reconnects by itself whenever the connection drops. */
  static async open(options: RedisLimiterOptions): Promise<RedisRateLimiter> {
    const timeout = options.commandTimeoutMs ?? 2000;
    const client = await createRedisClient(options.url, 'llmsvc-limiter', timeout);
    const limiter = new RedisRateLimiter(client, options);
    await connectWithin(client, timeout, limiter.logFailure);
    return limiter;
  }

  private redisKeys(keyId: string): string[] {
    // One hash tag per API key: its keys live on one node of a Redis Cluster.
    const base = `${this.options.prefix}{${keyId}}:`;
    return ['rq', 'slots', 'tk', 'tkv', 'tks', 'res', 'resv', 'ress'].map((name) => base + name);
  }

  private nextId(kind: 'a' | 'r'): string {
    return `${kind}:${this.nodeId}:${(this.sequence++).toString(36)}`;
  }

  /** Runs the script (by its SHA, loading it on the first NOSCRIPT). */
  private async run(keys: string[], args: (string | number)[]): Promise<ScriptReply> {
    try {
      return (await runLimiterScript(this.client, keys, args.map(String))) as ScriptReply;
    } catch (error) {
      this.logFailure(error);
      throw new ApiError(
        'LLMSVC_ERR_LIMITER_UNAVAILABLE',
        "The rate limiter's Redis cannot be reached, so this key's limits cannot be checked and the request was not run. Retry in a few seconds; if it persists, ask the operator to check Redis (redis_url).",
        null,
        { 'retry-after': '1' },
      );
    }
  }

  private hold(keyId: string, keys: string[], id: string): void {
    let entry = this.held.get(keyId);
    if (!entry) {
      entry = { keys, ids: new Set() };
      this.held.set(keyId, entry);
    }
    entry.ids.add(id);
  }

  private unhold(keyId: string, id: string): void {
    const entry = this.held.get(keyId);
    if (!entry) return;
    entry.ids.delete(id);
    if (entry.ids.size === 0) this.held.delete(keyId);
  }

  /** Pushes the lease deadline of every slot and reservation this node holds. */
  private refresh(): void {
    for (const { keys, ids } of this.held.values()) {
      this.run(keys, ['refresh', this.options.leaseMs, ...ids]).catch(noop); // logged by run
    }
  }

  /** Frees a slot and settles reservations; not awaited by the request (a failure is logged, and
   *  the lease frees what it could not). */
  private end(keys: string[], slotId: string, settlements: (string | number)[]): void {
    this.run(keys, ['end', slotId, ...settlements]).catch(noop);
  }

  private static quotaArgs(key: ApiKeyRecord, quota: () => QuotaUsage): { usage?: QuotaUsage; args: number[] } {
    const usage = hasTokenQuota(key) ? quota() : undefined;
    return { usage, args: [key.tpm ?? -1, key.dailyTokens ?? -1, key.monthlyTokens ?? -1, usage?.day ?? 0, usage?.month ?? 0] };
  }

  private headers(key: ApiKeyRecord, reply: ScriptReply): Record<string, string> {
    const [, , now, requests, oldestRequestAt, tokens, oldestTokenAt] = reply;
    return rateLimitHeaders(key, {
      now,
      requests,
      oldestRequestAt: oldestRequestAt >= 0 ? oldestRequestAt : undefined,
      tokens,
      oldestTokenAt: oldestTokenAt >= 0 ? oldestTokenAt : undefined,
    });
  }

  /** The 429 of a refused token reservation (status 3, 4 or 5). */
  private tokenRefusal(key: ApiKeyRecord, reply: ScriptReply, tokens: number, usage: QuotaUsage | undefined): ApiError {
    const [status, detail, now, , , , oldestTokenAt] = reply;
    const headers = this.headers(key, reply);
    if (status === 3) return tokenLimitError(key, detail, tokens, oldestTokenAt >= 0 ? oldestTokenAt : now, now, headers);
    const daily = status === 4;
    return quotaError(
      { period: daily ? 'daily' : 'monthly', limit: (daily ? key.dailyTokens : key.monthlyTokens)!, committed: detail, waitMs: daily ? usage!.msUntilDayEnds : usage!.msUntilMonthEnds },
      tokens,
      headers,
    );
  }

  private reservation(keyId: string, keys: string[], id: string): TokenReservation {
    this.hold(keyId, keys, id);
    let settled = false;
    return {
      settle: (actualTokens) => {
        if (settled) return;
        settled = true;
        this.unhold(keyId, id);
        this.end(keys, '', [id, actualTokens]);
      },
    };
  }

  admit(key: ApiKeyRecord, reserveTokens: number | undefined, quota: () => QuotaUsage): Admitted | Promise<Admitted> {
    // A key with no limit at all needs no shared state: its requests skip Redis.
    if (hasNoLimits(key)) return unlimitedAdmission(reserveTokens);
    return this.admitLimited(key, reserveTokens, quota);
  }

  private async admitLimited(key: ApiKeyRecord, reserveTokens: number | undefined, quota: () => QuotaUsage): Promise<Admitted> {
    const keys = this.redisKeys(key.id);
    const slotId = this.nextId('a');
    const reservationId = this.nextId('r');
    const args: (string | number)[] = ['admit', key.rpm ?? -1, key.maxConcurrent ?? -1, slotId, this.options.leaseMs];
    let usage: QuotaUsage | undefined;
    if (reserveTokens === undefined) args.push(0);
    else {
      const quotaArgs = RedisRateLimiter.quotaArgs(key, quota);
      usage = quotaArgs.usage;
      args.push(1, reserveTokens, reservationId, ...quotaArgs.args, this.options.leaseMs);
    }
    const reply = await this.run(keys, args);
    const [status, , now, , oldestRequestAt] = reply;
    if (status === 1) throw requestLimitError(key, oldestRequestAt + windowMs - now, this.headers(key, reply));
    if (status === 2) throw concurrencyLimitError(key, this.headers(key, reply));
    this.hold(key.id, keys, slotId);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.unhold(key.id, slotId);
      this.end(keys, slotId, []);
    };
    if (status !== 0) return { release, refusal: this.tokenRefusal(key, reply, reserveTokens!, usage), headers: this.headers(key, reply) };
    const reservation = reserveTokens === undefined ? undefined : this.reservation(key.id, keys, reservationId);
    return { release, reservation, headers: this.headers(key, reply) };
  }

  reserve(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): TokenReservation | Promise<TokenReservation> {
    if (hasNoLimits(key)) return { settle: noop };
    return this.reserveLimited(key, tokens, quota);
  }

  private async reserveLimited(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): Promise<TokenReservation> {
    const keys = this.redisKeys(key.id);
    const id = this.nextId('r');
    const { usage, args } = RedisRateLimiter.quotaArgs(key, quota);
    const reply = await this.run(keys, ['reserve', tokens, id, ...args, this.options.leaseMs]);
    if (reply[0] !== 0) throw this.tokenRefusal(key, reply, tokens, usage);
    return this.reservation(key.id, keys, id);
  }

  async dispose(): Promise<void> {
    clearInterval(this.refreshTimer);
    // Free what this node still holds rather than leave it to the leases.
    const ending = [...this.held.values()].map(({ keys, ids }) => {
      const slots = [...ids].filter((id) => id.startsWith('a:'));
      const reservations = [...ids].filter((id) => id.startsWith('r:')).flatMap((id) => [id, 0]);
      return Promise.all([...slots.map((id) => this.run(keys, ['end', id])), this.run(keys, ['end', '', ...reservations])]).catch(noop);
    });
    this.held.clear();
    await Promise.all(ending);
    await this.client.close().catch(noop);
  }
}
