import path from 'node:path';
import { openDatabase, type Db } from './database.js';
import type { ApiKeyStore } from './apiKeys.js';
import type { RequestLogStore } from './requestLog.js';
import type { UsageStore } from './usage.js';
import type { FileStore } from './files.js';
import type { VectorStoreStore } from './vectorStores.js';
import type { VectorStoreFileStore } from './vectorStoreFiles.js';
import type { JobStore } from './jobs.js';
import type { IngestEmbeddingStore } from './ingestEmbeddings.js';
import type { ResponseStore } from './responses.js';
import type { BatchStore } from './batches.js';
import type { RequestLedgerStore } from './ledger.js';
import { ApiKeyRepository } from './apiKeys.js';
import { RequestLogRepository } from './requestLog.js';
import { UsageRepository } from './usage.js';
import { FileRepository } from './files.js';
import { VectorStoreRepository } from './vectorStores.js';
import { VectorStoreFileRepository } from './vectorStoreFiles.js';
import { JobRepository } from './jobs.js';
import { IngestEmbeddingRepository } from './ingestEmbeddings.js';
import { RequestLedger } from './ledger.js';
import { ResponseRepository } from './responses.js';
import { BatchRepository } from './batches.js';

export { type Db, openDatabase, schemaVersion } from './database.js';
export { RequestLogRepository, type RequestLogStore, type RequestLogEntry } from './requestLog.js';
export { ApiKeyRepository, type ApiKeyStore, type ApiKeyRecord, type KeyLimits, type KeyScope } from './apiKeys.js';
export { UsageRepository, type UsageStore, type UsageRecord, type UsageRow } from './usage.js';
export { RequestLedger, type RequestLedgerStore, type LedgerEntry } from './ledger.js';
export { FileRepository, type FileStore, type FileRecord } from './files.js';
export { VectorStoreRepository, type VectorStoreStore, type VectorStoreRecord, type ChunkingParams } from './vectorStores.js';
export {
  VectorStoreFileRepository,
  type VectorStoreFileStore,
  type VectorStoreFileRecord,
  type VectorStoreFileStatus,
  type FileError,
  type FileCounts,
  type AttributeMap,
} from './vectorStoreFiles.js';
export { JobRepository, type JobStore, type JobRecord, type JobState } from './jobs.js';
export { IngestEmbeddingRepository, type IngestEmbeddingStore } from './ingestEmbeddings.js';
export { ResponseRepository, type ResponseStore, type StoredResponse } from './responses.js';
export type { PageRequest, PageOf } from './pagination.js';
export {
  BatchRepository,
  type BatchStore,
  type BatchApi,
  type BatchStatus,
  type BatchLineState,
  type BatchRecord,
  type BatchLineRecord,
  type BatchValidationError,
  type BatchPatch,
  type NewBatchLine,
  type LineCounts,
  type LineResult,
} from './batches.js';

export interface StoreOptions {
  /** Told when a turn of finished requests could not be written (default: a line on stderr). */
  onLedgerError?: (error: unknown, lost: number) => void;
}

function reportLedgerError(error: unknown, lost: number): void {
  process.stderr.write(`llmsvc: could not write the request log and usage of ${lost} requests: ${String(error)}\n`);
}

/** The SQLite implementations, for code that must write several tables (and the SQLite vector
 *  index) in one synchronous better-sqlite3 transaction: their `…Sync` methods. Everything else
 *  goes through the asynchronous interfaces on Store. */
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

/** The SQLite file in the data dir and one repository per table, typed by the asynchronous
 *  interfaces a PostgreSQL store could implement too. */
export class Store {
  readonly requestLog: RequestLogStore;
  readonly apiKeys: ApiKeyStore;
  readonly usage: UsageStore;
  readonly files: FileStore;
  readonly vectorStores: VectorStoreStore;
  readonly vectorStoreFiles: VectorStoreFileStore;
  readonly jobs: JobStore;
  readonly ingestEmbeddings: IngestEmbeddingStore;
  /** Responses API objects created with store: true. */
  readonly responses: ResponseStore;
  readonly batches: BatchStore;
  /** Finished requests' log rows and usage, committed once per event-loop turn. */
  readonly ledger: RequestLedgerStore;
  /** The same repositories as SQLite classes (see SqliteRepositories). */
  readonly sqlite: SqliteRepositories;
  private disposed = false;

  private constructor(
    readonly db: Db,
    options: StoreOptions,
  ) {
    this.sqlite = {
      requestLog: new RequestLogRepository(db),
      apiKeys: new ApiKeyRepository(db),
      usage: new UsageRepository(db),
      files: new FileRepository(db),
      vectorStores: new VectorStoreRepository(db),
      vectorStoreFiles: new VectorStoreFileRepository(db),
      jobs: new JobRepository(db),
      ingestEmbeddings: new IngestEmbeddingRepository(db),
      responses: new ResponseRepository(db),
      batches: new BatchRepository(db),
    };
    ({
      requestLog: this.requestLog,
      apiKeys: this.apiKeys,
      usage: this.usage,
      files: this.files,
      vectorStores: this.vectorStores,
      vectorStoreFiles: this.vectorStoreFiles,
      jobs: this.jobs,
      ingestEmbeddings: this.ingestEmbeddings,
      responses: this.responses,
      batches: this.batches,
    } = this.sqlite);
    this.ledger = new RequestLedger({ db, ...this.sqlite }, options.onLedgerError ?? reportLedgerError);
  }

  static open(dataDir: string, options: StoreOptions = {}): Store {
    return new Store(openDatabase(path.join(dataDir, 'llmsvc.sqlite')), options);
  }

  /** Writes the ledger's last turn, then closes the file. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ledger.flushSync();
    this.db.close();
  }
}
