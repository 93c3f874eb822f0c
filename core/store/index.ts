export { type Db, openDatabase, schemaVersion } from './database.js';
export { RequestLogRepository, type RequestLogStore, type RequestLogEntry } from './requestLog.js';
export { ApiKeyRepository, type ApiKeyStore, type ApiKeyRecord, type KeyLimits, type KeyScope } from './apiKeys.js';
export { UsageRepository, type UsageStore, type UsageRecord, type UsageRow } from './usage.js';
export { RequestLedger, summarize, type RequestLedgerStore, type LedgerEntry, type LedgerBatch, type LedgerCommit } from './ledger.js';
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

export type { Store, StoreTransaction } from './store.js';
export { SqliteStore, reportLedgerError, type StoreOptions, type SqliteRepositories } from './sqliteStore.js';
export { openStore, type StoreLocation } from './open.js';
