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

export { type Db, openDatabase, schemaVersion } from './database.js';
export { RequestLogRepository, type RequestLogEntry } from './requestLog.js';
export { ApiKeyRepository, type ApiKeyRecord, type KeyLimits, type KeyScope } from './apiKeys.js';
export { UsageRepository, type UsageRecord, type UsageRow } from './usage.js';
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
export type { PageRequest, PageOf } from './pagination.js';

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
  private disposed = false;

  private constructor(readonly db: Db) {
    this.requestLog = new RequestLogRepository(db);
    this.apiKeys = new ApiKeyRepository(db);
    this.usage = new UsageRepository(db);
    this.files = new FileRepository(db);
    this.vectorStores = new VectorStoreRepository(db);
    this.vectorStoreFiles = new VectorStoreFileRepository(db);
    this.jobs = new JobRepository(db);
    this.ingestEmbeddings = new IngestEmbeddingRepository(db);
  }

  static open(dataDir: string): Store {
    return new Store(openDatabase(path.join(dataDir, 'llmsvc.sqlite')));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.db.close();
  }
}
