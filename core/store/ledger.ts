import type { ApiKeyRepository } from './apiKeys.js';
import type { Db } from './database.js';
import type { RequestLogEntry, RequestLogRepository } from './requestLog.js';
import type { UsageRecord, UsageRepository } from './usage.js';

export interface LedgerStore {
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

/** Writes finished requests to SQLite in one transaction per event-loop turn (group commit).
 *
 *  A commit per request cost about 0.12 ms of the request path, most of it writing the same few
 *  pages (the request log's leaf, the usage row, the key) to the WAL again and again; under load
 *  the requests that end in one turn now share one commit, and their usage is summed per key ×
 *  model × day into one upsert each. The turn's transaction runs in setImmediate, i.e. before the
 *  server reads its next batch of requests, so a response that was sent is recorded within the
 *  turn it ended in: what a kill -9 can lose is the bookkeeping of that one turn, the same as a
 *  commit after each response could lose the one in progress.
 *
 *  Readers that must see every finished request (quota checks, the admin usage route, shutdown)
 *  call `flush()` first. */
export class RequestLedger {
  private pending: LedgerEntry[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly commit: (entries: readonly LedgerEntry[]) => void;

  /** `onWriteError`: told when a turn's transaction fails (e.g. a full disk); its entries are
   *  dropped, as retrying a write that failed once would fail every turn after. */
  constructor(
    { db, requestLog, usage, apiKeys }: LedgerStore,
    private readonly onWriteError: (error: unknown, lost: number) => void,
  ) {
    this.commit = db.transaction((entries: readonly LedgerEntry[]) => {
      const totals = new Map<string, UsageRecord & { requests: number; errors: number }>();
      const touches = new Map<string, number>();
      for (const entry of entries) {
        requestLog.insert(entry.log);
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
      for (const total of totals.values()) usage.add(total, total.requests, total.errors);
      for (const [keyId, at] of touches) apiKeys.touch(keyId, at);
    });
  }

  /** Records a finished request; written at the end of this event-loop turn. */
  record(entry: LedgerEntry): void {
    this.pending.push(entry);
    this.scheduled ??= setImmediate(() => this.flush());
  }

  /** Writes everything recorded so far, now. */
  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    try {
      this.commit(entries);
    } catch (error) {
      this.onWriteError(error, entries.length);
    }
  }
}
