import path from 'node:path';
import { openDatabase, type Db } from './database.js';
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
export { RequestLogRepository, type RequestLogEntry } from './requestLog.js';
export { ApiKeyRepository, type ApiKeyRecord, type KeyLimits, type KeyScope } from './apiKeys.js';
export { UsageRepository, type UsageRecord, type UsageRow } from './usage.js';
export { RequestLedger, type LedgerEntry } from './ledger.js';
export { FileRepository, type FileRecord } from './files.js';
export { VectorStoreRepository, type VectorStoreRecord, type ChunkingParams } from './vectorStores.js';
export {
  VectorStoreFileRepository,
  type VectorStoreFileRecord,
  type VectorStoreFileStatus,
  type FileError,
  type FileCounts,
  type AttributeMap,
} from './vectorStoreFiles.js';
export { JobRepository, type JobRecord, type JobState } from './jobs.js';
export { IngestEmbeddingRepository } from './ingestEmbeddings.js';
export { ResponseRepository, type StoredResponse } from './responses.js';
export type { PageRequest, PageOf } from './pagination.js';
export {
  BatchRepository,
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

/** The SQLite file in the data dir and one repository per table. */
export class Store {
  readonly requestLog: RequestLogRepository;
  readonly apiKeys: ApiKeyRepository;
  readonly usage: UsageRepository;
  readonly files: FileRepository;
  readonly vectorStores: VectorStoreRepository;
  readonly vectorStoreFiles: VectorStoreFileRepository;
  readonly jobs: JobRepository;
  readonly ingestEmbeddings: IngestEmbeddingRepository;
  /** Responses API objects created with store: true. */
  readonly responses: ResponseRepository;
  readonly batches: BatchRepository;
  /** Finished requests' log rows and usage, committed once per event-loop turn. */
  readonly ledger: RequestLedger;
  private disposed = false;

  private constructor(
    readonly db: Db,
    options: StoreOptions,
  ) {
    this.requestLog = new RequestLogRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.usage = new UsageRepository(db);
    this.files = new FileRepository(db);
    this.vectorStores = new VectorStoreRepository(db);
    this.vectorStoreFiles = new VectorStoreFileRepository(db);
    this.jobs = new JobRepository(db);
    this.ingestEmbeddings = new IngestEmbeddingRepository(db);
    this.responses = new ResponseRepository(db);
    this.batches = new BatchRepository(db);
    this.ledger = new RequestLedger(this, options.onLedgerError ?? reportLedgerError);
  }

  static open(dataDir: string, options: StoreOptions = {}): Store {
    return new Store(openDatabase(path.join(dataDir, 'llmsvc.sqlite')), options);
  }

  /** Writes the ledger's last turn, then closes the file. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ledger.flush();
    this.db.close();
  }
}
