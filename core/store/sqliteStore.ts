import path from 'node:path';
import { ApiKeyRepository } from './apiKeys.js';
import { BatchRepository } from './batches.js';
import { openDatabase, type Db } from './database.js';
import { FileRepository } from './files.js';
import { IngestEmbeddingRepository } from './ingestEmbeddings.js';
import { JobRepository } from './jobs.js';
import { RequestLedger, type LedgerBatch, type RequestLedgerStore } from './ledger.js';
import { RequestLogRepository } from './requestLog.js';
import { ResponseRepository } from './responses.js';
import type { Store, StoreTransaction } from './store.js';
import { UsageRepository } from './usage.js';
import { VectorStoreFileRepository } from './vectorStoreFiles.js';
import { VectorStoreRepository } from './vectorStores.js';
import { SqliteVectorIndex } from './vectors/SqliteVectorIndex.js';
import { SqliteVectorIndexAccess } from './vectors/sqliteAsync.js';

export interface StoreOptions {
  /** Told when a group of finished requests could not be written (default: a line on stderr). */
  onLedgerError?: (error: unknown, lost: number) => void;
}

export function reportLedgerError(error: unknown, lost: number): void {
  process.stderr.write(`llmsvc: could not write the request log and usage of ${lost} requests: ${String(error)}\n`);
}

/** The SQLite implementations, for code that must write several tables (and the SQLite vector
 *  index) in one synchronous better-sqlite3 transaction: their `…Sync` methods. */
export interface SqliteRepositories {
  requestLog: RequestLogRepository;
  apiKeys: ApiKeyRepository;
  usage: UsageRepository;
  files: FileRepository;
  vectorStores: VectorStoreRepository;
  vectorStoreFiles: VectorStoreFileRepository;
  jobs: JobRepository;
  ingestEmbeddings: IngestEmbeddingRepository;
  responses: ResponseRepository;
  batches: BatchRepository;
}

/** The store of one box: the SQLite file in the data dir, one repository per table. */
export class SqliteStore implements Store {
  readonly engine = 'sqlite';
  readonly requestLog: RequestLogRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly usage: UsageRepository;
  readonly files: FileRepository;
  readonly vectorStores: VectorStoreRepository;
  readonly vectorStoreFiles: VectorStoreFileRepository;
  readonly jobs: JobRepository;
  readonly ingestEmbeddings: IngestEmbeddingRepository;
  readonly responses: ResponseRepository;
  readonly batches: BatchRepository;
  readonly ledger: RequestLedgerStore;
  /** The same repositories, typed as SQLite classes (see SqliteRepositories). */
  readonly sqlite: SqliteRepositories;
  private index: SqliteVectorIndexAccess | undefined;
  /** The transaction running now, if any: the next waits for it. */
  private transactions: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly db: Db,
    options: StoreOptions,
  ) {
    this.sqlite = {
      requestLog: (this.requestLog = new RequestLogRepository(db)),
      apiKeys: (this.apiKeys = new ApiKeyRepository(db)),
      usage: (this.usage = new UsageRepository(db)),
      files: (this.files = new FileRepository(db)),
      vectorStores: (this.vectorStores = new VectorStoreRepository(db)),
      vectorStoreFiles: (this.vectorStoreFiles = new VectorStoreFileRepository(db)),
      jobs: (this.jobs = new JobRepository(db)),
      ingestEmbeddings: (this.ingestEmbeddings = new IngestEmbeddingRepository(db)),
      responses: (this.responses = new ResponseRepository(db)),
      batches: (this.batches = new BatchRepository(db)),
    };
    const commit = db.transaction(({ logs, usage, touches }: LedgerBatch) => {
      for (const log of logs) this.requestLog.insertSync(log);
      for (const total of usage) this.usage.addSync(total, total.requests, total.errors);
      for (const { keyId, at } of touches) this.apiKeys.touchSync(keyId, at);
    });
    this.ledger = new RequestLedger(commit, options.onLedgerError ?? reportLedgerError);
  }

  static open(dataDir: string, options: StoreOptions = {}): SqliteStore {
    return new SqliteStore(openDatabase(path.join(dataDir, 'llmsvc.sqlite')), options);
  }

  /** Made on first use: loading sqlite-vec is left to the processes that search or index. */
  get vectorIndex(): SqliteVectorIndexAccess {
    return (this.index ??= new SqliteVectorIndexAccess(new SqliteVectorIndex(this.db)));
  }

  /** better-sqlite3's transactions are synchronous, and every repository method here runs its
   *  statements synchronously even though it returns a promise. So a transaction is BEGIN, the
   *  work (which only chains already-settled promises), COMMIT, all within one event-loop turn:
   *  nothing else (a request's ledger commit, another transaction) can run in between. Work that
   *  waits on real I/O would let other writes into the open transaction, so it is refused. */
  async transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    const before = this.transactions;
    const run = (async () => {
      await before.catch(() => undefined);
      // Best effort: whichever runs first of the next immediate and the next timer shows that the
      // event loop moved on. (Begun inside an immediate, work whose I/O completes within the next
      // millisecond could still slip past both.)
      let leftTheTurn = false;
      const turnEnded = setImmediate(() => (leftTheTurn = true));
      const timerRan = setTimeout(() => (leftTheTurn = true), 0);
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this);
        if (leftTheTurn) throw new Error('A SQLite store transaction waited on I/O; its work must only call the store.');
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      } finally {
        clearImmediate(turnEnded);
        clearTimeout(timerRan);
      }
    })();
    this.transactions = run;
    return run;
  }

  async close(): Promise<void> {
    this.dispose();
  }

  /** close(), synchronously: writes the ledger's last commits, then closes the file. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.ledger.flush();
    this.db.close();
  }
}
