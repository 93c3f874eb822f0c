import type { ApiKeyRepository } from './apiKeys.js';
import type { Db } from './database.js';
import type { RequestLogEntry, RequestLogRepository } from './requestLog.js';
import type { UsageRecord, UsageRepository } from './usage.js';

/** The SQLite repositories the ledger writes through, in one synchronous transaction. */
export interface LedgerTables {
  db: Db;
  requestLog: RequestLogRepository;
  usage: UsageRepository;
  apiKeys: ApiKeyRepository;
}

/** What one finished request leaves behind: its request-log row, the usage it adds to its key
 *  (undefined when auth is off) and, at most once a second per key, the key's last use. */
export interface LedgerEntry {
  log: RequestLogEntry;
  usage?: UsageRecord | undefined;
  touchAt?: number | undefined;
}

/** The ledger as callers see it. `record` returns at once (the write happens later, batched);
 *  `flush` writes everything recorded so far and resolves once it is written. */
export interface RequestLedgerStore {
  record(entry: LedgerEntry): void;
  flush(): Promise<void>;
  /** The same, synchronously: for Store.dispose at shutdown, which must not wait on a promise. */
  flushSync(): void;
}

/** At most one commit per this many ms: under load the requests that end within it share one. */
const commitIntervalMs = 10;
/** Committed at once when this many are waiting. */
const maxPending = 256;

/** Writes finished requests to SQLite in few transactions (group commit).
 *
 *  A commit per request cost about 0.1 ms of CPU, most of it writing the same few pages (the
 *  request log's leaf, the usage row, the key) to the WAL again and again. The ledger commits at
 *  most once every 10 ms: a request that ends when none was committed in the last 10 ms is
 *  written at the end of its event-loop turn (setImmediate, before the server reads further
 *  requests); under load, the requests that end within the next 10 ms join it, and their usage
 *  is summed per key × model × day into one upsert each. What a kill -9 can lose is therefore the
 *  bookkeeping of requests that ended in the last 10 ms under load (the in-memory rate-limit
 *  windows are lost on any restart anyway); a clean stop loses nothing (Store.dispose flushes).
 *
 *  Readers that must see every finished request (quota checks, the admin usage route) call
 *  `flush()` first; Store.dispose calls `flushSync()`. */
export class RequestLedger implements RequestLedgerStore {
  private pending: LedgerEntry[] = [];
  private scheduledTurn: NodeJS.Immediate | undefined;
  private scheduledTimer: NodeJS.Timeout | undefined;
  private lastCommitAt = -Infinity;
  private readonly commit: (entries: readonly LedgerEntry[]) => void;

  /** `onWriteError`: told when a commit fails (e.g. a full disk); its entries are dropped, as
   *  retrying a write that failed once would fail every commit after. */
  constructor(
    { db, requestLog, usage, apiKeys }: LedgerTables,
    private readonly onWriteError: (error: unknown, lost: number) => void,
  ) {
    this.commit = db.transaction((entries: readonly LedgerEntry[]) => {
      const totals = new Map<string, UsageRecord & { requests: number; errors: number }>();
      const touches = new Map<string, number>();
      for (const entry of entries) {
        requestLog.insertSync(entry.log);
        const used = entry.usage;
        if (!used) continue;
        const bucket = `${used.keyId}\u0000${used.model}\u0000${used.day}`;
        const total = totals.get(bucket);
        if (total) {
          total.requests++;
          total.promptTokens += used.promptTokens;
          total.completionTokens += used.completionTokens;
          if (used.error) total.errors++;
        } else {
          totals.set(bucket, { ...used, requests: 1, errors: used.error ? 1 : 0 });
        }
        if (entry.touchAt !== undefined) touches.set(used.keyId, Math.max(entry.touchAt, touches.get(used.keyId) ?? 0));
      }
      for (const total of totals.values()) usage.addSync(total, total.requests, total.errors);
      for (const [keyId, at] of touches) apiKeys.touchSync(keyId, at);
    });
  }

  /** Records a finished request: written at the end of this event-loop turn, or within 10 ms of
   *  the last commit under load. */
  record(entry: LedgerEntry): void {
    this.pending.push(entry);
    if (this.pending.length >= maxPending) return this.flushSync();
    if (this.scheduledTurn || this.scheduledTimer) return;
    const wait = this.lastCommitAt + commitIntervalMs - performance.now();
    if (wait > 0) this.scheduledTimer = setTimeout(() => this.flushSync(), wait);
    else this.scheduledTurn = setImmediate(() => this.flushSync());
  }

  /** Writes everything recorded so far (a write error goes to onWriteError, as for a scheduled commit). */
  async flush(): Promise<void> {
    this.flushSync();
  }

  /** Writes everything recorded so far, now. */
  flushSync(): void {
    clearImmediate(this.scheduledTurn);
    clearTimeout(this.scheduledTimer);
    this.scheduledTurn = this.scheduledTimer = undefined;
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    this.lastCommitAt = performance.now();
    try {
      this.commit(entries);
    } catch (error) {
      this.onWriteError(error, entries.length);
    }
  }
}
