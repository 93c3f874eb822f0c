import path from 'node:path';
import type pg from 'pg';
import { RequestLedger, type LedgerBatch, type RequestLedgerStore } from '../ledger.js';
import { openWalFile, type Db } from '../database.js';
import { reportLedgerError, type StoreOptions } from '../sqliteStore.js';
import type { Store, StoreTransaction } from '../store.js';
import { PostgresApiKeyRepository } from './apiKeys.js';
import { PostgresBatchRepository } from './batches.js';
import { PostgresChangeFeed } from './changeFeed.js';
import { PostgresFileRepository } from './files.js';
import { PostgresIngestEmbeddingRepository } from './ingestEmbeddings.js';
import { PostgresJobRepository } from './jobs.js';
import { openPostgresPool } from './pool.js';
import { PostgresRequestLogRepository } from './requestLog.js';
import { PostgresResponseRepository } from './responses.js';
import { inTransaction, serializably, type Executor } from './sql.js';
import { PostgresUsageRepository } from './usage.js';
import { ReplicatedVectorIndex } from './vectorIndex.js';
import { PostgresVectorIndexWriter } from './vectorIndexLog.js';
import { PostgresVectorStoreFileRepository } from './vectorStoreFiles.js';
import { PostgresVectorStoreRepository } from './vectorStores.js';

export interface PostgresStoreOptions extends StoreOptions {
  /** Told when the database or the change feed loses a connection (they reconnect by themselves). */
  onConnectionError?: (error: Error) => void;
  /** Connections in the pool (default 10). */
  poolSize?: number;
}

/** The file of this node's copy of the vector indexes (see ReplicatedVectorIndex). */
export const vectorReplicaFile = 'vector-replica.sqlite';

/** The repositories of the tables that transactions write, on one executor. */
function transactionRepositories(executor: Executor): StoreTransaction {
  return {
    files: new PostgresFileRepository(executor),
    batches: new PostgresBatchRepository(executor),
    vectorStores: new PostgresVectorStoreRepository(executor),
    vectorStoreFiles: new PostgresVectorStoreFileRepository(executor),
    jobs: new PostgresJobRepository(executor),
    ingestEmbeddings: new PostgresIngestEmbeddingRepository(executor),
    vectorIndex: new PostgresVectorIndexWriter(executor),
  };
}

/** The store of several nodes: every table in one PostgreSQL database, key changes heard from the
 *  other nodes through LISTEN/NOTIFY, and vector search on this node's copy of the indexes, kept in
 *  step with the log of index writes in PostgreSQL. */
export class PostgresStore implements Store {
  readonly engine = 'postgres';
  readonly requestLog: PostgresRequestLogRepository;
  readonly apiKeys: PostgresApiKeyRepository;
  readonly usage: PostgresUsageRepository;
  readonly responses: PostgresResponseRepository;
  readonly files: PostgresFileRepository;
  readonly batches: PostgresBatchRepository;
  readonly vectorStores: PostgresVectorStoreRepository;
  readonly vectorStoreFiles: PostgresVectorStoreFileRepository;
  readonly jobs: PostgresJobRepository;
  readonly ingestEmbeddings: PostgresIngestEmbeddingRepository;
  readonly ledger: RequestLedgerStore;
  private replica: { db: Db; index: ReplicatedVectorIndex } | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly changes: PostgresChangeFeed,
    private readonly dataDir: string,
    options: PostgresStoreOptions,
  ) {
    this.files = new PostgresFileRepository(pool);
    this.batches = new PostgresBatchRepository(pool);
    this.vectorStores = new PostgresVectorStoreRepository(pool);
    this.vectorStoreFiles = new PostgresVectorStoreFileRepository(pool);
    this.jobs = new PostgresJobRepository(pool);
    this.ingestEmbeddings = new PostgresIngestEmbeddingRepository(pool);
    this.requestLog = new PostgresRequestLogRepository(pool);
    this.apiKeys = new PostgresApiKeyRepository(pool, changes);
    this.usage = new PostgresUsageRepository(pool);
    this.responses = new PostgresResponseRepository(pool);
    this.ledger = new RequestLedger((batch) => this.commitLedger(batch), options.onLedgerError ?? reportLedgerError);
  }

  /** Connects to `url` (migrating its schema first) and listens for the other nodes' changes.
   *  `dataDir` holds this node's copy of the vector indexes. */
  static async open(url: string, dataDir: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const onError = options.onConnectionError ?? ((error: Error) => process.stderr.write(`llmsvc: PostgreSQL connection lost: ${error.message}\n`));
    const pool = await openPostgresPool(url, onError, options.poolSize);
    try {
      const changes = await PostgresChangeFeed.open(url, onError);
      return new PostgresStore(pool, changes, dataDir, options);
    } catch (error) {
      await pool.end();
      throw error;
    }
  }

  /** Made on first use, as on SQLite: loading sqlite-vec is left to the processes that search. */
  get vectorIndex(): ReplicatedVectorIndex {
    if (!this.replica) {
      const db = openWalFile(path.join(this.dataDir, vectorReplicaFile));
      this.replica = { db, index: new ReplicatedVectorIndex(this.pool, db) };
    }
    return this.replica.index;
  }

  /** SERIALIZABLE, retried when PostgreSQL aborts it for a concurrent one: the same outcome as
   *  SQLite's one-at-a-time transactions (see serializably). */
  transaction<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
    return serializably(this.pool, (client) => work(transactionRepositories(client)));
  }

  /** One transaction per group; usage adds up, so groups may commit in any order. */
  private commitLedger({ logs, usage, touches }: LedgerBatch): Promise<void> {
    return inTransaction(this.pool, async (client) => {
      const requestLog = new PostgresRequestLogRepository(client);
      const usageTable = new PostgresUsageRepository(client);
      const apiKeys = new PostgresApiKeyRepository(client, this.changes);
      await requestLog.insertAll(logs);
      for (const total of usage) await usageTable.add(total, total.requests, total.errors);
      for (const { keyId, at } of touches) await apiKeys.touch(keyId, at);
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ledger.flush();
      await this.changes.close();
      await this.pool.end();
      this.replica?.db.close();
    })();
    return this.closing;
  }
}
