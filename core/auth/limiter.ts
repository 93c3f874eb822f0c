import { ApiError, type ErrorCode } from '../errors/index.js';
import type { ApiKeyRecord } from '../store/index.js';
import type { Clock } from './clock.js';

const windowMs = 60_000;

/** OpenAI's reset format: "20ms", "1s", "6m0s". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  return seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

interface TokenEntry {
  at: number;
  tokens: number;
  /** False once pruned from the window: a later settle must not touch the running sum. */
  inWindow: boolean;
}

/** A FIFO queue over an array with a head index: O(1) amortised push and shift, where
 *  Array.prototype.shift is O(length). The array is compacted once half of it is dead. */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  /** The oldest item (the queue must not be empty). */
  first(): T {
    return this.items[this.head]!;
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T; // let it be collected
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Every item, oldest first (for tests and recounts). */
  toArray(): T[] {
    return this.items.slice(this.head);
  }
}

/** One key's sliding one-minute windows and in-flight counts. The token window keeps a running
 *  sum (added on push, adjusted on settle, subtracted on prune), so every check is O(1) however
 *  much traffic the last minute had; token counts are integers, so the sum stays exact. */
export class KeyState {
  readonly requests = new Queue<number>();
  readonly tokens = new Queue<TokenEntry>();
  /** The sum of `tokens` over the entries in the window. */
  tokensInWindow = 0;
  inFlight = 0;
  /** Tokens reserved by requests still running, not yet in the usage table. */
  reservedTokens = 0;

  prune(now: number): void {
    const oldest = now - windowMs;
    while (this.requests.length > 0 && this.requests.first() <= oldest) this.requests.shift();
    while (this.tokens.length > 0 && this.tokens.first().at <= oldest) {
      const entry = this.tokens.shift();
      entry.inWindow = false;
      this.tokensInWindow -= entry.tokens;
    }
  }

  pushTokens(at: number, tokens: number): TokenEntry {
    const entry: TokenEntry = { at, tokens, inWindow: true };
    this.tokens.push(entry);
    this.tokensInWindow += tokens;
    return entry;
  }

  /** Replaces an entry's count (a reservation settling to what the request used). */
  setTokens(entry: TokenEntry, tokens: number): void {
    if (entry.inWindow) this.tokensInWindow += tokens - entry.tokens;
    entry.tokens = tokens;
  }

  /** The sum recounted from the entries: what `tokensInWindow` must equal (tests). */
  recount(): number {
    return this.tokens.toArray().reduce((sum, entry) => sum + entry.tokens, 0);
  }
}

export interface QuotaUsage {
  /** Tokens recorded today (UTC) and this month, from the usage table. */
  day: number;
  month: number;
  msUntilDayEnds: number;
  msUntilMonthEnds: number;
}

/** What the rate-limit headers are made of: the requests and tokens in the key's window. */
export interface WindowView {
  now: number;
  requests: number;
  oldestRequestAt: number | undefined;
  tokens: number;
  oldestTokenAt: number | undefined;
}

/** The x-ratelimit-* headers (only for the limits the key has), from either limiter's window. */
export function rateLimitHeaders(key: ApiKeyRecord, view: WindowView): Record<string, string> {
  const headers: Record<string, string> = {};
  if (key.rpm !== null) {
    headers['x-ratelimit-limit-requests'] = String(key.rpm);
    headers['x-ratelimit-remaining-requests'] = String(Math.max(0, key.rpm - view.requests));
    headers['x-ratelimit-reset-requests'] = formatReset(view.oldestRequestAt !== undefined ? view.oldestRequestAt + windowMs - view.now : 0);
  }
  if (key.tpm !== null) {
    headers['x-ratelimit-limit-tokens'] = String(key.tpm);
    headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, key.tpm - view.tokens));
    headers['x-ratelimit-reset-tokens'] = formatReset(view.oldestTokenAt !== undefined ? view.oldestTokenAt + windowMs - view.now : 0);
  }
  return headers;
}

function limitError(code: ErrorCode, waitMs: number, message: string, headers: Record<string, string>): ApiError {
  return new ApiError(code, message, null, { ...headers, 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) });
}

/** The 429 of a full RPM window. */
export function requestLimitError(key: ApiKeyRecord, waitMs: number, headers: Record<string, string>): ApiError {
  return limitError(
    'LLMSVC_ERR_RATE_LIMIT_REQUESTS',
    waitMs,
    `Rate limit reached for requests: this key allows ${key.rpm} requests per minute. Retry in ${formatReset(waitMs)}, or ask the operator for a higher limit.`,
    headers,
  );
}

/** The 429 of a key whose concurrency cap is reached. */
export function concurrencyLimitError(key: ApiKeyRecord, headers: Record<string, string>): ApiError {
  return limitError(
    'LLMSVC_ERR_CONCURRENCY_LIMIT',
    1000,
    `This key allows ${key.maxConcurrent} requests at a time and that many are running. Wait for one to finish, then retry.`,
    headers,
  );
}

/** The 429 of a reservation beyond the TPM window (`used` tokens in it, the oldest entered at `oldestAt`). */
export function tokenLimitError(key: ApiKeyRecord, used: number, tokens: number, oldestAt: number, now: number, headers: Record<string, string>): ApiError {
  const tpm = key.tpm!;
  const waitMs = tokens > tpm ? windowMs : oldestAt + windowMs - now;
  return limitError(
    'LLMSVC_ERR_RATE_LIMIT_TOKENS',
    waitMs,
    `Rate limit reached for tokens: this key allows ${tpm} tokens per minute, ${used} are used and this request reserves ${tokens} (prompt plus max_tokens). ` +
      (tokens > tpm ? 'Lower max_tokens or shorten the prompt.' : `Retry in ${formatReset(waitMs)}, or lower max_tokens.`),
    headers,
  );
}

export interface QuotaRefusal {
  period: 'daily' | 'monthly';
  limit: number;
  /** Tokens used plus reserved by running requests. */
  committed: number;
  waitMs: number;
}

/** Whether the key has a day or month token quota (checked against the usage table). */
export function hasTokenQuota(key: ApiKeyRecord): boolean {
  return key.dailyTokens !== null || key.monthlyTokens !== null;
}

/** A key with no limit at all: a limiter shared by several processes admits it without asking
 *  its shared state. */
export function hasNoLimits(key: ApiKeyRecord): boolean {
  return key.rpm === null && key.tpm === null && key.maxConcurrent === null && !hasTokenQuota(key);
}

/** The day or month quota a reservation of `tokens` would exceed, given the usage table's counts
 *  and the tokens reserved by running requests; undefined when both allow it. */
export function quotaRefusal(key: ApiKeyRecord, usage: QuotaUsage, reserved: number, tokens: number): QuotaRefusal | undefined {
  const checks = [
    { limit: key.dailyTokens, used: usage.day, period: 'daily' as const, waitMs: usage.msUntilDayEnds },
    { limit: key.monthlyTokens, used: usage.month, period: 'monthly' as const, waitMs: usage.msUntilMonthEnds },
  ];
  for (const check of checks) {
    if (check.limit === null) continue;
    const committed = check.used + reserved;
    // A request whose size is not known up front (tokens = 0) is refused only when the quota is spent.
    if (committed + tokens > check.limit || (tokens === 0 && committed >= check.limit)) {
      return { period: check.period, limit: check.limit, committed, waitMs: check.waitMs };
    }
  }
  return undefined;
}

export function quotaError(refusal: QuotaRefusal, tokens: number, headers: Record<string, string>): ApiError {
  return limitError(
    'LLMSVC_ERR_QUOTA_EXCEEDED',
    refusal.waitMs,
    `You exceeded this key's ${refusal.period} token quota (${refusal.limit} tokens; ${refusal.committed} used or reserved, this request needs ${tokens}). ` +
      `It resets in ${formatReset(refusal.waitMs)} (UTC); ask the operator to raise it.`,
    headers,
  );
}

export interface TokenReservation {
  /** Replaces the reservation by what the request really used. */
  settle(actualTokens: number): void;
}

/** Rate limits and quotas per key, exact under any concurrency: every check and the reservation
 *  that follows it happen in one synchronous step on the one JavaScript thread, so no two
 *  requests can both take the last unit. In memory, because a limit window is a minute long;
 *  the day and month quotas read the usage table, which survives restarts. */
export class Limiter {
  private readonly states = new Map<string, KeyState>();

  constructor(private readonly clock: Clock) {}

  private state(keyId: string): KeyState {
    let state = this.states.get(keyId);
    if (!state) {
      state = new KeyState();
      this.states.set(keyId, state);
    }
    state.prune(this.clock());
    return state;
  }

  /** The x-ratelimit-* headers for a key (only for the limits it has). */
  headers(key: ApiKeyRecord): Record<string, string> {
    const state = this.state(key.id);
    return rateLimitHeaders(key, {
      now: this.clock(),
      requests: state.requests.length,
      oldestRequestAt: state.requests.length > 0 ? state.requests.first() : undefined,
      tokens: state.tokensInWindow,
      oldestTokenAt: state.tokens.length > 0 ? state.tokens.first().at : undefined,
    });
  }

  /** Admits a request (counting it against RPM and the concurrency cap) or throws the 429. The
   *  returned function ends it. */
  admit(key: ApiKeyRecord): () => void {
    const state = this.state(key.id);
    const now = this.clock();
    if (key.rpm !== null && state.requests.length >= key.rpm) {
      throw requestLimitError(key, state.requests.first() + windowMs - now, this.headers(key));
    }
    if (key.maxConcurrent !== null && state.inFlight >= key.maxConcurrent) throw concurrencyLimitError(key, this.headers(key));
    state.requests.push(now);
    state.inFlight++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      state.inFlight--;
    };
  }

  /** Reserves `tokens` against the key's TPM and token quotas, or throws the 429. */
  reserve(key: ApiKeyRecord, tokens: number, quota: () => QuotaUsage): TokenReservation {
    const state = this.state(key.id);
    const now = this.clock();
    if (key.tpm !== null) {
      const used = state.tokensInWindow;
      // A request whose size is not known up front (tokens = 0) is refused only when the window is full.
      if (used + tokens > key.tpm || (tokens === 0 && used >= key.tpm)) {
        throw tokenLimitError(key, used, tokens, state.tokens.length > 0 ? state.tokens.first().at : now, now, this.headers(key));
      }
    }
    if (hasTokenQuota(key)) {
      const refusal = quotaRefusal(key, quota(), state.reservedTokens, tokens);
      if (refusal) throw quotaError(refusal, tokens, this.headers(key));
    }
    const entry = state.pushTokens(now, tokens);
    state.reservedTokens += tokens;
    let settled = false;
    return {
      settle: (actualTokens) => {
        if (settled) return;
        settled = true;
        state.setTokens(entry, actualTokens);
        state.reservedTokens -= tokens;
      },
    };
  }
}
