import type { Db } from './database.js';
import { Paginator, type PageOf, type PageRequest } from './pagination.js';
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

interface VectorStoreFileRow {
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

function fromRow(row: VectorStoreFileRow): VectorStoreFileRecord {
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

function toRow(file: VectorStoreFileRecord): VectorStoreFileRow {
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
    this.upsertStatement = db.prepare(`
      INSERT INTO vector_store_files (vector_store_id, file_id, status, last_error, attributes, chunking_strategy,
        content_sha256, duplicate_of, usage_bytes, created_at)
      VALUES (@vector_store_id, @file_id, @status, @last_error, @attributes, @chunking_strategy,
        @content_sha256, @duplicate_of, @usage_bytes, @created_at)
      ON CONFLICT (vector_store_id, file_id) DO UPDATE SET status = excluded.status, last_error = excluded.last_error,
        attributes = excluded.attributes, duplicate_of = excluded.duplicate_of, usage_bytes = excluded.usage_bytes`);
    this.byKey = db.prepare<[string, string], VectorStoreFileRow>('SELECT * FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?');
    this.byContent = db.prepare<[string, string], VectorStoreFileRow>(`
      SELECT * FROM vector_store_files WHERE vector_store_id = ? AND content_sha256 = ? AND duplicate_of IS NULL
        AND status IN ('in_progress', 'completed') ORDER BY rowid LIMIT 1`);
    this.duplicatesOf = db.prepare<[string, string], VectorStoreFileRow>(
      'SELECT * FROM vector_store_files WHERE vector_store_id = ? AND duplicate_of = ? ORDER BY rowid',
    );
    this.storesOfFile = db.prepare<[string], { vector_store_id: string }>('SELECT vector_store_id FROM vector_store_files WHERE file_id = ?');
    this.deleteStatement = db.prepare<[string, string]>('DELETE FROM vector_store_files WHERE vector_store_id = ? AND file_id = ?');
    this.countsStatement = db.prepare<[string], FileCounts & { usage_bytes: number }>(`
      SELECT COALESCE(SUM(status = 'in_progress'), 0) AS in_progress, COALESCE(SUM(status = 'completed'), 0) AS completed,
        COALESCE(SUM(status = 'failed'), 0) AS failed, COALESCE(SUM(status = 'cancelled'), 0) AS cancelled,
        COUNT(*) AS total, COALESCE(SUM(usage_bytes), 0) AS usage_bytes
      FROM vector_store_files WHERE vector_store_id = ?`);
    this.pages = new Paginator<VectorStoreFileRow>(db, {
      table: 'vector_store_files',
      idColumn: 'file_id',
      columns: '*',
      scope: 'vector_store_id = @storeId AND (@status IS NULL OR status = @status)',
    });
  }

  async save(file: VectorStoreFileRecord): Promise<void> {
    return this.saveSync(file);
  }

  /** save, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  saveSync(file: VectorStoreFileRecord): void {
    this.upsertStatement.run(toRow(file));
  }

  async find(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord | undefined> {
    return this.findSync(vectorStoreId, fileId);
  }

  /** find, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  findSync(vectorStoreId: string, fileId: string): VectorStoreFileRecord | undefined {
    const row = this.byKey.get(vectorStoreId, fileId);
    return row && fromRow(row);
  }

  /** The file of this store, indexed or being indexed, that holds this content's chunks. */
  async findIndexedContent(vectorStoreId: string, sha256: string): Promise<VectorStoreFileRecord | undefined> {
    return this.findIndexedContentSync(vectorStoreId, sha256);
  }

  /** findIndexedContent, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  findIndexedContentSync(vectorStoreId: string, sha256: string): VectorStoreFileRecord | undefined {
    const row = this.byContent.get(vectorStoreId, sha256);
    return row && fromRow(row);
  }

  async duplicates(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord[]> {
    return this.duplicatesSync(vectorStoreId, fileId);
  }

  /** duplicates, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  duplicatesSync(vectorStoreId: string, fileId: string): VectorStoreFileRecord[] {
    return this.duplicatesOf.all(vectorStoreId, fileId).map(fromRow);
  }

  async storesHolding(fileId: string): Promise<string[]> {
    return this.storesHoldingSync(fileId);
  }

  /** storesHolding, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  storesHoldingSync(fileId: string): string[] {
    return this.storesOfFile.all(fileId).map((row) => row.vector_store_id);
  }

  async list(vectorStoreId: string, page: PageRequest, status?: VectorStoreFileStatus): Promise<PageOf<VectorStoreFileRecord>> {
    const result = this.pages.page(page, { storeId: vectorStoreId, status: status ?? null });
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  /** Files by status, and the bytes their chunks use. */
  async counts(vectorStoreId: string): Promise<FileCounts & { usageBytes: number }> {
    const { usage_bytes: usageBytes, ...counts } = this.countsStatement.get(vectorStoreId)!;
    return { ...counts, usageBytes };
  }

  async delete(vectorStoreId: string, fileId: string): Promise<boolean> {
    return this.deleteSync(vectorStoreId, fileId);
  }

  /** delete, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  deleteSync(vectorStoreId: string, fileId: string): boolean {
    return this.deleteStatement.run(vectorStoreId, fileId).changes > 0;
  }
}
