import type { Db } from './database.js';
import { Paginator, type PagedTable, type PageOf, type PageRequest } from './pagination.js';

export interface FileRecord {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  /** Unix seconds. */
  createdAt: number;
  sha256: string;
}

export interface FileRow {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  created_at: number;
  sha256: string;
}

const columns = 'id, filename, bytes, purpose, created_at, sha256';

export function fromRow(row: FileRow): FileRecord {
  return { id: row.id, filename: row.filename, bytes: row.bytes, purpose: row.purpose, createdAt: row.created_at, sha256: row.sha256 };
}

/** The content column of a row whose content is in the blob store (a parameter rather than a
 *  literal: SQLite spells an empty blob X'', PostgreSQL '\\x'). */
export const noContent = Buffer.alloc(0);

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const fileSql = {
  insert: `
    INSERT INTO files (id, filename, bytes, purpose, created_at, sha256, content, blob_key)
    VALUES (@id, @filename, @bytes, @purpose, @createdAt, @sha256, @noContent, @blobKey)`,
  blobKeyById: 'SELECT blob_key FROM files WHERE id = ?',
  blobUsers: 'SELECT id FROM files WHERE blob_key = ? LIMIT 1',
  legacy: 'SELECT id FROM files WHERE blob_key IS NULL LIMIT ?',
  moveToBlob: 'UPDATE files SET blob_key = ?, content = ? WHERE id = ?',
  byId: `SELECT ${columns} FROM files WHERE id = ?`,
  contentById: 'SELECT content FROM files WHERE id = ?',
  delete: 'DELETE FROM files WHERE id = ?',
} as const;

/** (CAST: PostgreSQL cannot tell the type of a parameter only tested for NULL.) */
export const filePages: PagedTable = { table: 'files', idColumn: 'id', columns, scope: '(CAST(@purpose AS TEXT) IS NULL OR purpose = @purpose)' };

/** list's scope parameters. */
export function filePageParams(purpose: string | undefined): Record<string, unknown> {
  return { purpose: purpose ?? null };
}

/** insert's parameters. */
export function fileInsertParams(file: FileRecord, blobKey: string): Record<string, unknown> {
  return { ...file, blobKey, noContent };
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface FileStore {
  insert(file: FileRecord, blobKey: string): Promise<void>;
  blobKey(id: string): Promise<string | null | undefined>;
  blobInUse(key: string): Promise<boolean>;
  legacyIds(limit: number): Promise<string[]>;
  legacyContent(id: string): Promise<Buffer | undefined>;
  moveToBlob(id: string, blobKey: string): Promise<void>;
  find(id: string): Promise<FileRecord | undefined>;
  list(page: PageRequest, purpose?: string): Promise<PageOf<FileRecord>>;
  delete(id: string): Promise<boolean>;
}

/** The files table: uploads and where their content is (a key of the blob store; rows from
 *  before the blob store hold it in a BLOB until it is moved). */
export class FileRepository implements FileStore {
  private readonly insertStatement;
  private readonly byId;
  private readonly contentById;
  private readonly blobKeyById;
  private readonly blobUsers;
  private readonly legacyStatement;
  private readonly moveStatement;
  private readonly deleteStatement;
  private readonly pages;

  constructor(db: Db) {
    this.insertStatement = db.prepare(fileSql.insert);
    this.blobKeyById = db.prepare<[string], { blob_key: string | null }>(fileSql.blobKeyById);
    this.blobUsers = db.prepare<[string], { id: string }>(fileSql.blobUsers);
    this.legacyStatement = db.prepare<[number], { id: string }>(fileSql.legacy);
    this.moveStatement = db.prepare(fileSql.moveToBlob);
    this.byId = db.prepare<[string], FileRow>(fileSql.byId);
    this.contentById = db.prepare<[string], { content: Buffer }>(fileSql.contentById);
    this.deleteStatement = db.prepare<[string]>(fileSql.delete);
    this.pages = new Paginator<FileRow>(db, filePages);
  }

  /** A file whose content is in the blob store under `blobKey`. */
  async insert(file: FileRecord, blobKey: string): Promise<void> {
    return this.insertSync(file, blobKey);
  }

  /** insert, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  insertSync(file: FileRecord, blobKey: string): void {
    this.insertStatement.run(fileInsertParams(file, blobKey));
  }

  async blobKey(id: string): Promise<string | null | undefined> {
    return this.blobKeyById.get(id)?.blob_key;
  }

  /** Whether any file still uses this blob (the data dir stores equal contents once). */
  async blobInUse(key: string): Promise<boolean> {
    return this.blobUsers.get(key) !== undefined;
  }

  /** Files whose content is still in their row (from before the blob store), a few at a time. */
  async legacyIds(limit: number): Promise<string[]> {
    return this.legacyStatement.all(limit).map((row) => row.id);
  }

  /** The content of a row written before the blob store. */
  async legacyContent(id: string): Promise<Buffer | undefined> {
    return this.contentById.get(id)?.content;
  }

  /** The row's content has been copied to the blob store: point at it, and drop the copy in SQLite. */
  async moveToBlob(id: string, blobKey: string): Promise<void> {
    this.moveStatement.run(blobKey, noContent, id);
  }

  async find(id: string): Promise<FileRecord | undefined> {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  async list(page: PageRequest, purpose?: string): Promise<PageOf<FileRecord>> {
    const result = this.pages.page(page, filePageParams(purpose));
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteSync(id);
  }

  /** delete, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  deleteSync(id: string): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }
}
