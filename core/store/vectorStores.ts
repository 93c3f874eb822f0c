import type { Db } from './database.js';
import { Paginator, type PagedTable, type PageOf, type PageRequest } from './pagination.js';

/** OpenAI's static chunking parameters, in tokens. */
export interface ChunkingParams {
  max_chunk_size_tokens: number;
  chunk_overlap_tokens: number;
}

export interface VectorStoreRecord {
  id: string;
  name: string;
  description: string | null;
  embeddingModel: string;
  dimensions: number;
  chunkingStrategy: ChunkingParams;
  metadata: Record<string, string> | null;
  expiresAfterDays: number | null;
  /** Unix seconds. */
  lastActiveAt: number;
  createdAt: number;
}

export interface VectorStoreRow {
  id: string;
  name: string;
  description: string | null;
  embedding_model: string;
  dimensions: number;
  chunking_strategy: string;
  metadata: string | null;
  expires_after_days: number | null;
  last_active_at: number;
  created_at: number;
}

export function vectorStoreFromRow(row: VectorStoreRow): VectorStoreRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    embeddingModel: row.embedding_model,
    dimensions: row.dimensions,
    chunkingStrategy: JSON.parse(row.chunking_strategy) as ChunkingParams,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    expiresAfterDays: row.expires_after_days,
    lastActiveAt: row.last_active_at,
    createdAt: row.created_at,
  };
}

export function vectorStoreToRow(store: VectorStoreRecord): VectorStoreRow {
  return {
    id: store.id,
    name: store.name,
    description: store.description,
    embedding_model: store.embeddingModel,
    dimensions: store.dimensions,
    chunking_strategy: JSON.stringify(store.chunkingStrategy),
    metadata: store.metadata === null ? null : JSON.stringify(store.metadata),
    expires_after_days: store.expiresAfterDays,
    last_active_at: store.lastActiveAt,
    created_at: store.createdAt,
  };
}

const columns =
  'id, name, description, embedding_model, dimensions, chunking_strategy, metadata, expires_after_days, last_active_at, created_at';

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const vectorStoreSql = {
  upsert: `
    INSERT INTO vector_stores (${columns})
    VALUES (@id, @name, @description, @embedding_model, @dimensions, @chunking_strategy, @metadata,
      @expires_after_days, @last_active_at, @created_at)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, metadata = excluded.metadata,
      expires_after_days = excluded.expires_after_days, last_active_at = excluded.last_active_at`,
  byId: `SELECT ${columns} FROM vector_stores WHERE id = ?`,
  byName: `SELECT ${columns} FROM vector_stores WHERE name = ? ORDER BY rowid LIMIT 1`,
  delete: 'DELETE FROM vector_stores WHERE id = ?',
  touch: 'UPDATE vector_stores SET last_active_at = ? WHERE id = ?',
} as const;

export const vectorStorePages: PagedTable = { table: 'vector_stores', idColumn: 'id', columns, scope: '1 = 1' };

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface VectorStoreStore {
  save(store: VectorStoreRecord): Promise<void>;
  /** Reads the store, applies `change` and saves the result, atomically. Undefined when there is
   *  no such store. */
  modify(id: string, change: (store: VectorStoreRecord) => VectorStoreRecord): Promise<VectorStoreRecord | undefined>;
  find(id: string): Promise<VectorStoreRecord | undefined>;
  findByName(name: string): Promise<VectorStoreRecord | undefined>;
  list(page: PageRequest): Promise<PageOf<VectorStoreRecord>>;
  touch(id: string, at: number): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** The vector_stores table (their chunks live in the vector index, their files in vector_store_files). */
export class VectorStoreRepository implements VectorStoreStore {
  private readonly upsertStatement;
  private readonly byId;
  private readonly byName;
  private readonly deleteStatement;
  private readonly touchStatement;
  private readonly pages;
  private readonly modifyTransaction;

  constructor(db: Db) {
    this.upsertStatement = db.prepare(vectorStoreSql.upsert);
    this.byId = db.prepare<[string], VectorStoreRow>(vectorStoreSql.byId);
    this.byName = db.prepare<[string], VectorStoreRow>(vectorStoreSql.byName);
    this.deleteStatement = db.prepare<[string]>(vectorStoreSql.delete);
    this.touchStatement = db.prepare<[number, string]>(vectorStoreSql.touch);
    this.pages = new Paginator<VectorStoreRow>(db, vectorStorePages);
    this.modifyTransaction = db.transaction((id: string, change: (store: VectorStoreRecord) => VectorStoreRecord) => {
      const row = this.byId.get(id);
      if (!row) return undefined;
      const changed = change(vectorStoreFromRow(row));
      this.upsertStatement.run(vectorStoreToRow(changed));
      return changed;
    });
  }

  async modify(id: string, change: (store: VectorStoreRecord) => VectorStoreRecord): Promise<VectorStoreRecord | undefined> {
    return this.modifyTransaction(id, change);
  }

  /** Inserts, or updates the fields a client may change (name, description, metadata, expiry). */
  async save(store: VectorStoreRecord): Promise<void> {
    return this.saveSync(store);
  }

  /** save, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  saveSync(store: VectorStoreRecord): void {
    this.upsertStatement.run(vectorStoreToRow(store));
  }

  async find(id: string): Promise<VectorStoreRecord | undefined> {
    const row = this.byId.get(id);
    return row && vectorStoreFromRow(row);
  }

  /** The oldest store of this name (names need not be unique; the CLI addresses stores by name). */
  async findByName(name: string): Promise<VectorStoreRecord | undefined> {
    const row = this.byName.get(name);
    return row && vectorStoreFromRow(row);
  }

  async list(page: PageRequest): Promise<PageOf<VectorStoreRecord>> {
    const result = this.pages.page(page);
    return { items: result.items.map(vectorStoreFromRow), hasMore: result.hasMore };
  }

  async touch(id: string, at: number): Promise<void> {
    return this.touchSync(id, at);
  }

  /** touch, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  touchSync(id: string, at: number): void {
    this.touchStatement.run(at, id);
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteSync(id);
  }

  /** delete, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  deleteSync(id: string): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }
}
