import type { ApiKeyStore } from './apiKeys.js';
import type { BatchStore } from './batches.js';
import type { FileStore } from './files.js';
import type { IngestEmbeddingStore } from './ingestEmbeddings.js';
import type { JobStore } from './jobs.js';
import type { RequestLedgerStore } from './ledger.js';
import type { RequestLogStore } from './requestLog.js';
import type { ResponseStore } from './responses.js';
import type { UsageStore } from './usage.js';
import type { VectorStoreFileStore } from './vectorStoreFiles.js';
import type { VectorStoreStore } from './vectorStores.js';
import type { VectorIndexReader, VectorIndexWriter } from './vectors/types.js';

/** The repositories that writes spanning several tables go through, bound to one transaction. */
export interface StoreTransaction {
  files: FileStore;
  batches: BatchStore;
  vectorStores: VectorStoreStore;
  vectorStoreFiles: VectorStoreFileStore;
  jobs: JobStore;
  ingestEmbeddings: IngestEmbeddingStore;
  vectorIndex: VectorIndexWriter;
}

/** Everything llmsvc keeps, on SQLite (one box: SqliteStore) or PostgreSQL (several nodes:
 *  PostgresStore), behind the same asynchronous interfaces. */
export interface Store {
  readonly engine: 'sqlite' | 'postgres';
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
  /** Finished requests' log rows and usage, committed in groups (see RequestLedger). */
  readonly ledger: RequestLedgerStore;
  /** Vector search over every store's chunks (writes go through a transaction). */
  readonly vectorIndex: VectorIndexReader;
  /** Runs `work` in one transaction: its writes all commit, or none do if it throws. `work` must
   *  only call the transaction's repositories (on SQLite it has to finish without leaving the
   *  event-loop turn it started in; see SqliteStore.transaction). Transactions do not nest. */
  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Writes the ledger's last commits, then closes the database. */
  close(): Promise<void>;
}
