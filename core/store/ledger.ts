import type { RequestLogEntry } from './requestLog.js';
import type { UsageRecord } from './usage.js';

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
}

/** One commit's worth of finished requests, summed: the log rows as they are, the usage per
 *  key × model × day, and each key's latest use. */
export interface LedgerBatch {
  logs: RequestLogEntry[];
  usage: (UsageRecord & { requests: number; errors: number })[];
  touches: { keyId: string; at: number }[];
}

/** Writes one batch in one transaction: synchronously on SQLite (so that a flush is complete when
 *  `flush()` returns, before its promise settles), asynchronously on PostgreSQL. */
export type LedgerCommit = (batch: LedgerBatch) => void | Promise<void>;

export function summarize(entries: readonly LedgerEntry[]): LedgerBatch {
  const totals = new Map<string, UsageRecord & { requests: number; errors: number }>();
  const touches = new Map<string, number>();
  for (const entry of entries) {
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
  return {
    logs: entries.map((entry) => entry.log),
    usage: [...totals.values()],
    touches: [...touches].map(([keyId, at]) => ({ keyId, at })),
  };
}

/** At most one commit per this many ms: under load the requests that end within it share one. */
const commitIntervalMs = 10;
/** Committed at once when this many are waiting. */
const maxPending = 256;

/** Writes finished requests to the store in few transactions (group commit).
 *
 *  A commit per request cost about 0.1 ms of CPU on SQLite, most of it writing the same few pages
 *  (the request log's leaf, the usage row, the key) to the WAL again and again; on PostgreSQL it
 *  would cost a round trip each. The ledger commits at most once every 10 ms: a request that ends
 *  when none was committed in the last 10 ms is written at the end of its event-loop turn
 *  (setImmediate, before the server reads further requests); under load, the requests that end
 *  within the next 10 ms join it, and their usage is summed per key × model × day into one upsert
 *  each. What a kill -9 can lose is therefore the bookkeeping of requests that ended in the last
 *  10 ms under load (the in-memory rate-limit windows are lost on any restart anyway); a clean
 *  stop loses nothing (the store's close flushes).
 *
 *  Readers that must see every finished request (quota checks, the admin usage route) call
 *  `flush()` first: it resolves once everything recorded before it, including commits already
 *  under way, is written. */
export class RequestLedger implements RequestLedgerStore {
  private pending: LedgerEntry[] = [];
  private scheduledTurn: NodeJS.Immediate | undefined;
  private scheduledTimer: NodeJS.Timeout | undefined;
  private lastCommitAt = -Infinity;
  /** Asynchronous commits not yet settled (PostgreSQL). */
  private readonly committing = new Set<Promise<void>>();

  /** `onWriteError`: told when a commit fails (e.g. a full disk); its entries are dropped, as
   *  retrying a write that failed once would fail every commit after. */
  constructor(
    private readonly commit: LedgerCommit,
    private readonly onWriteError: (error: unknown, lost: number) => void,
  ) {}

  /** Records a finished request: written at the end of this event-loop turn, or within 10 ms of
   *  the last commit under load. */
  record(entry: LedgerEntry): void {
    this.pending.push(entry);
    if (this.pending.length >= maxPending) return void this.flush();
    if (this.scheduledTurn || this.scheduledTimer) return;
    const wait = this.lastCommitAt + commitIntervalMs - performance.now();
    if (wait > 0) this.scheduledTimer = setTimeout(() => void this.flush(), wait);
    else this.scheduledTurn = setImmediate(() => void this.flush());
  }

  /** Writes everything recorded so far (a write error goes to onWriteError, as for a scheduled
   *  commit). A synchronous commit is done before this returns its promise. */
  flush(): Promise<void> {
    clearImmediate(this.scheduledTurn);
    clearTimeout(this.scheduledTimer);
    this.scheduledTurn = this.scheduledTimer = undefined;
    if (this.pending.length > 0) this.commitPending();
    return this.committing.size === 0 ? Promise.resolve() : Promise.all(this.committing).then(() => undefined);
  }

  private commitPending(): void {
    const entries = this.pending;
    this.pending = [];
    this.lastCommitAt = performance.now();
    let written: void | Promise<void>;
    try {
      written = this.commit(summarize(entries));
    } catch (error) {
      return this.onWriteError(error, entries.length);
    }
    if (!written) return;
    const settled: Promise<void> = written.then(
      () => undefined,
      (error: unknown) => this.onWriteError(error, entries.length),
    );
    this.committing.add(settled);
    void settled.finally(() => this.committing.delete(settled));
  }
}
