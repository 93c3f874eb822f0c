import type { Db } from './database.js';
import { Paginator, type PagedTable, type PageOf, type PageRequest } from './pagination.js';
import type { ChunkingParams } from './vectorStores.js';

export type VectorStoreFileStatus = 'in_progress' | 'completed' | 'failed' | 'cancelled';
export type AttributeMap = Record<string, string | number | boolean>;

/** OpenAI's last_error of a vector store file. */
export interface FileError {
  code: 'server_error' | 'unsupported_file' | 'invalid_file';
  message: string;
}

export interface VectorStoreFileRecord {
  vectorStoreId: string;
  fileId: string;
  status: VectorStoreFileStatus;
  lastError: FileError | null;
  attributes: AttributeMap | null;
  chunkingStrategy: ChunkingParams;
  contentSha256: string;
  /** Another file of the store with the same content: its chunks serve this file too. */
  duplicateOf: string | null;
  usageBytes: number;
  /** Unix seconds. */
  createdAt: number;
}

export interface VectorStoreFileRow {
  vector_store_id: string;
  file_id: string;
  status: VectorStoreFileStatus;
  last_error: string | null;
  attributes: string | null;
  chunking_strategy: string;
  content_sha256: string;
  duplicate_of: string | null;
  usage_bytes: number;
  created_at: number;
}

export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
const parsed = <T>(text: string | null) => (text === null ? null : (JSON.parse(text) as T));

export function vectorStoreFileFromRow(row: VectorStoreFileRow): VectorStoreFileRecord {
  return {
    vectorStoreId: row.vector_store_id,
    fileId: row.file_id,
    status: row.status,
    lastError: parsed<FileError>(row.last_error),
    attributes: parsed<AttributeMap>(row.attributes),
    chunkingStrategy: JSON.parse(row.chunking_strategy) as ChunkingParams,
    contentSha256: row.content_sha256,
    duplicateOf: row.duplicate_of,
    usageBytes: row.usage_bytes,
    createdAt: row.created_at,
  };
}

export function vectorStoreFileToRow(file: VectorStoreFileRecord): VectorStoreFileRow {
  return {
    vector_store_id: file.vectorStoreId,
    file_id: file.fileId,
    status: file.status,
    last_error: json(file.lastError),
    attributes: json(file.attributes),
    chunking_strategy: JSON.stringify(file.chunkingStrategy),
    content_sha256: file.contentSha256,
    duplicate_of: file.duplicateOf,
    usage_bytes: file.usageBytes,
    created_at: file.createdAt,
  };
}

const columns = 'vector_store_id, file_id, status, last_error, attributes, chunking_strategy, content_sha256, duplicate_of, usage_bytes, created_at';

/** Per-status counts as one row: SUM over CASE (PostgreSQL has no boolean sum), cast to BIGINT
 *  (PostgreSQL's SUM of a BIGINT is a NUMERIC, which pg hands over as a string). */
const countOf = (expression: string) => `CAST(COALESCE(SUM(${expression}), 0) AS BIGINT)`;
const countStatus = (status: VectorStoreFileStatus) => `${countOf(`CASE WHEN status = '${status}' THEN 1 ELSE 0 END`)} AS ${status}`;

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). Every listing
 *  is in insertion order (rowid), so that both engines return the same order. */
export const vectorStoreFileSql = {
  upsert: `
    INSERT INTO vector_store_files (${columns})
    VALUES (@vector_store_id, @file_id, @status, @last_error, @attributes, @chunking_strategy,
      @content_sha256, @duplicate_of, @usage_bytes, @created_at)
    ON CONFLICT (vector_store_id, file_id) DO UPDATE SET status = excluded.status, last_error = excluded.last_error,
      attributes = excluded.attributes, duplicate_of = excluded.duplicate_of, usage_bytes = excluded.usage_bytes`,
  byKey: `SELECT ${columns} FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?`,
  byContent: `
    SELECT ${columns} FROM vector_store_files WHERE vector_store_id = ? AND content_sha256 = ? AND duplicate_of IS NULL
      AND status IN ('in_progress', 'completed') ORDER BY rowid LIMIT 1`,
  duplicates: `SELECT ${columns} FROM vector_store_files WHERE vector_store_id = ? AND duplicate_of = ? ORDER BY rowid`,
  storesHolding: 'SELECT vector_store_id FROM vector_store_files WHERE file_id = ? ORDER BY rowid',
  delete: 'DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?',
  counts: `
    SELECT ${countStatus('in_progress')}, ${countStatus('completed')}, ${countStatus('failed')}, ${countStatus('cancelled')},
      COUNT(*) AS total, ${countOf('usage_bytes')} AS usage_bytes
    FROM vector_store_files WHERE vector_store_id = ?`,
} as const;

/** (CAST: PostgreSQL cannot tell the type of a parameter only tested for NULL.) */
export const vectorStoreFilePages: PagedTable = {
  table: 'vector_store_files',
  idColumn: 'file_id',
  columns,
  scope: 'vector_store_id = @storeId AND (CAST(@status AS TEXT) IS NULL OR status = @status)',
};

/** list's scope parameters. */
export function vectorStoreFilePageParams(vectorStoreId: string, status: VectorStoreFileStatus | undefined): Record<string, unknown> {
  return { storeId: vectorStoreId, status: status ?? null };
}

export type VectorStoreFileCountsRow = FileCounts & { usage_bytes: number };

export function countsFromRow(row: VectorStoreFileCountsRow): FileCounts & { usageBytes: number } {
  const { usage_bytes: usageBytes, ...counts } = row;
  return { ...counts, usageBytes };
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface VectorStoreFileStore {
  save(file: VectorStoreFileRecord): Promise<void>;
  find(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord | undefined>;
  findIndexedContent(vectorStoreId: string, sha256: string): Promise<VectorStoreFileRecord | undefined>;
  duplicates(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord[]>;
  storesHolding(fileId: string): Promise<string[]>;
  list(vectorStoreId: string, page: PageRequest, status?: VectorStoreFileStatus): Promise<PageOf<VectorStoreFileRecord>>;
  counts(vectorStoreId: string): Promise<FileCounts & { usageBytes: number }>;
  delete(vectorStoreId: string, fileId: string): Promise<boolean>;
}

/** The vector_store_files table: which file is in which store, and how its indexing went. */
export class VectorStoreFileRepository implements VectorStoreFileStore {
  private readonly upsertStatement;
  private readonly byKey;
  private readonly byContent;
  private readonly duplicatesOf;
  private readonly storesOfFile;
  private readonly deleteStatement;
  private readonly countsStatement;
  private readonly pages;

  constructor(db: Db) {
    this.upsertStatement = db.prepare(vectorStoreFileSql.upsert);
    this.byKey = db.prepare<[string, string], VectorStoreFileRow>(vectorStoreFileSql.byKey);
    this.byContent = db.prepare<[string, string], VectorStoreFileRow>(vectorStoreFileSql.byContent);
    this.duplicatesOf = db.prepare<[string, string], VectorStoreFileRow>(vectorStoreFileSql.duplicates);
    this.storesOfFile = db.prepare<[string], { vector_store_id: string }>(vectorStoreFileSql.storesHolding);
    this.deleteStatement = db.prepare<[string, string]>(vectorStoreFileSql.delete);
    this.countsStatement = db.prepare<[string], VectorStoreFileCountsRow>(vectorStoreFileSql.counts);
    this.pages = new Paginator<VectorStoreFileRow>(db, vectorStoreFilePages);
  }

  async save(file: VectorStoreFileRecord): Promise<void> {
    return this.saveSync(file);
  }

  /** save, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  saveSync(file: VectorStoreFileRecord): void {
    this.upsertStatement.run(vectorStoreFileToRow(file));
  }

  async find(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord | undefined> {
    return this.findSync(vectorStoreId, fileId);
  }

  /** find, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  findSync(vectorStoreId: string, fileId: string): VectorStoreFileRecord | undefined {
    const row = this.byKey.get(vectorStoreId, fileId);
    return row && vectorStoreFileFromRow(row);
  }

  /** The file of this store, indexed or being indexed, that holds this content's chunks. */
  async findIndexedContent(vectorStoreId: string, sha256: string): Promise<VectorStoreFileRecord | undefined> {
    return this.findIndexedContentSync(vectorStoreId, sha256);
  }

  /** findIndexedContent, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  findIndexedContentSync(vectorStoreId: string, sha256: string): VectorStoreFileRecord | undefined {
    const row = this.byContent.get(vectorStoreId, sha256);
    return row && vectorStoreFileFromRow(row);
  }

  async duplicates(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord[]> {
    return this.duplicatesSync(vectorStoreId, fileId);
  }

  /** duplicates, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  duplicatesSync(vectorStoreId: string, fileId: string): VectorStoreFileRecord[] {
    return this.duplicatesOf.all(vectorStoreId, fileId).map(vectorStoreFileFromRow);
  }

  async storesHolding(fileId: string): Promise<string[]> {
    return this.storesHoldingSync(fileId);
  }

  /** storesHolding, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  storesHoldingSync(fileId: string): string[] {
    return this.storesOfFile.all(fileId).map((row) => row.vector_store_id);
  }

  async list(vectorStoreId: string, page: PageRequest, status?: VectorStoreFileStatus): Promise<PageOf<VectorStoreFileRecord>> {
    const result = this.pages.page(page, vectorStoreFilePageParams(vectorStoreId, status));
    return { items: result.items.map(vectorStoreFileFromRow), hasMore: result.hasMore };
  }

  /** Files by status, and the bytes their chunks use. */
  async counts(vectorStoreId: string): Promise<FileCounts & { usageBytes: number }> {
    return countsFromRow(this.countsStatement.get(vectorStoreId)!);
  }

  async delete(vectorStoreId: string, fileId: string): Promise<boolean> {
    return this.deleteSync(vectorStoreId, fileId);
  }

  /** delete, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  deleteSync(vectorStoreId: string, fileId: string): boolean {
    return this.deleteStatement.run(vectorStoreId, fileId).changes > 0;
  }
}
