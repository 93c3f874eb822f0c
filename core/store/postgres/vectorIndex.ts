// The vector index across nodes: PostgreSQL holds each store's writes as an ordered log
// (vectorIndexLog.ts); each node keeps a SQLite copy of the index (a local file, SqliteVectorIndex)
// and, before each read, replays the entries it has not applied yet, in order. Equal writes in equal
// order make equal copies (ids, FTS5 statistics, and IVF training, which is seeded from the data),
// so every node answers a search with the same hits, as long as every node's copy is built with the
// same SqliteVectorIndexOptions (ivf thresholds, vec0 chunk size).
import type pg from 'pg';
import type { Db } from '../database.js';
import { SqliteVectorIndex, type SqliteVectorIndexOptions } from '../vectors/SqliteVectorIndex.js';
import type { Attributes, IndexOptions, SearchHit, SearchQuery, VectorIndexReader, VectorIndexWriter } from '../vectors/types.js';
import { query, type Executor } from './sql.js';
import { decodeChunks, parseOptions, PostgresVectorIndexWriter, vectorIndexLogSql, type LogEntry, type LogHead } from './vectorIndexLog.js';

/** In the local file: how far this copy has replayed each store's log. */
const appliedTable = 'vector_index_applied';

/** Entries read from PostgreSQL at a time (a put holds a whole file's chunks). */
const batchSize = 32;

interface Applied {
  incarnation: string;
  seq: number;
}

/** This node's copy of every vector store's index, kept up to date from the log on PostgreSQL. */
export class ReplicatedVectorIndex implements VectorIndexReader {
  private readonly local: SqliteVectorIndex;
  /** The catch-up of each store now running on this node: the next one waits for it (two would
   *  read the same entries and apply them twice). */
  private readonly catchingUp = new Map<string, Promise<void>>();
  private entriesApplied = 0;

  /** `db`: this node's own SQLite file for the copy (not shared with other nodes). */
  constructor(
    private readonly pool: pg.Pool,
    private readonly db: Db,
    options: SqliteVectorIndexOptions = {},
  ) {
    this.local = new SqliteVectorIndex(db, options);
    db.exec(`CREATE TABLE IF NOT EXISTS ${appliedTable} (
      store_id TEXT PRIMARY KEY,
      incarnation TEXT NOT NULL,
      seq INTEGER NOT NULL
    )`);
  }

  /** The writes, on `executor` (a client inside the caller's transaction, or the pool). */
  writer(executor: Executor): VectorIndexWriter {
    return new PostgresVectorIndexWriter(executor);
  }

  async options(storeId: string): Promise<IndexOptions | undefined> {
    await this.catchUp(storeId);
    return this.local.options(storeId);
  }

  async search(storeId: string, query: SearchQuery): Promise<SearchHit[]> {
    await this.catchUp(storeId);
    return this.local.search(storeId, query);
  }

  async chunkCount(storeId: string): Promise<number> {
    await this.catchUp(storeId);
    return this.local.chunkCount(storeId);
  }

  /** The local copy, for diagnostics (partitionStats) and tests: reading it skips the catch-up. */
  get localIndex(): SqliteVectorIndex {
    return this.local;
  }

  /** Log entries this object has applied to the local copy since it was made. */
  get appliedEntries(): number {
    return this.entriesApplied;
  }

  /** The last entry of the store's log that the local copy holds (0: none). */
  appliedSeq(storeId: string): number {
    return this.applied(storeId)?.seq ?? 0;
  }

  /** Brings the local copy of the store up to every write committed before this call: applies the
   *  log entries it lacks, in order, after any catch-up of the store already running here. */
  catchUp(storeId: string): Promise<void> {
    const previous = this.catchingUp.get(storeId) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(() => this.applyNew(storeId));
    this.catchingUp.set(storeId, current);
    const forget = () => {
      if (this.catchingUp.get(storeId) === current) this.catchingUp.delete(storeId);
    };
    current.then(forget, forget);
    return current;
  }

  private async applyNew(storeId: string): Promise<void> {
    // The head's last_seq was committed with its entry, and every earlier entry committed before
    // it (the head's row lock orders the writers): entries up to it are all there to read.
    const [head] = await query<LogHead>(this.pool, vectorIndexLogSql.head, [storeId]);
    let applied = this.applied(storeId);
    if (!head) {
      // Dropped (or never created): the local tables go lazily, here.
      if (applied || this.local.options(storeId)) this.startOver(storeId, undefined);
      return;
    }
    if (applied?.incarnation !== head.incarnation) applied = this.startOver(storeId, head.incarnation);
    let seq = applied!.seq;
    while (seq < head.last_seq) {
      const entries = await query<LogEntry>(this.pool, vectorIndexLogSql.entries, [storeId, head.incarnation, seq, head.last_seq, batchSize]);
      if (entries.length === 0) break;
      for (const entry of entries) this.apply(storeId, head.incarnation, entry);
      seq = entries.at(-1)!.seq;
    }
    // A seq with no entry (a writer that took it, failed, and whose caller committed anyway) is
    // skipped: everything up to the head has been read.
    if (seq < head.last_seq) this.record(storeId, head.incarnation, seq, head.last_seq);
  }

  /** Applies one entry and records it in one local transaction: a crash between the two cannot
   *  happen, and an entry already recorded (by another process on this file) is skipped. */
  private apply(storeId: string, incarnation: string, entry: LogEntry): void {
    this.db
      .transaction(() => {
        const applied = this.applied(storeId);
        if (applied?.incarnation !== incarnation || entry.seq <= applied.seq) return;
        const fileId = entry.file_id!;
        switch (entry.op) {
          case 'create':
            this.local.create(storeId, parseOptions(entry.details!));
            break;
          case 'put':
            this.local.putFile(storeId, fileId, JSON.parse(entry.details!) as Attributes, decodeChunks(entry.chunks!));
            break;
          case 'remove':
            this.local.removeFile(storeId, fileId);
            break;
          case 'attributes':
            this.local.setAttributes(storeId, fileId, JSON.parse(entry.details!) as Attributes);
            break;
          default:
            throw new Error(`unknown vector index log entry ${String(entry.op)} (a newer llmsvc wrote it; upgrade this node)`);
        }
        this.db.prepare(`UPDATE ${appliedTable} SET seq = ? WHERE store_id = ?`).run(entry.seq, storeId);
        this.entriesApplied++;
      })
      .immediate();
  }

  private record(storeId: string, incarnation: string, from: number, to: number): void {
    this.db.prepare(`UPDATE ${appliedTable} SET seq = ? WHERE store_id = ? AND incarnation = ? AND seq = ?`).run(to, storeId, incarnation, from);
  }

  /** Drops the local copy of the store; with an incarnation, starts replaying that one from the top. */
  private startOver(storeId: string, incarnation: string | undefined): Applied | undefined {
    return this.db
      .transaction(() => {
        this.local.drop(storeId);
        this.db.prepare(`DELETE FROM ${appliedTable} WHERE store_id = ?`).run(storeId);
        if (incarnation === undefined) return undefined;
        this.db.prepare(`INSERT INTO ${appliedTable} (store_id, incarnation, seq) VALUES (?, ?, 0)`).run(storeId, incarnation);
        return { incarnation, seq: 0 };
      })
      .immediate();
  }

  private applied(storeId: string): Applied | undefined {
    return this.db.prepare(`SELECT incarnation, seq FROM ${appliedTable} WHERE store_id = ?`).get(storeId) as Applied | undefined;
  }
}
