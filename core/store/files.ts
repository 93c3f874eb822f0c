import type { Db } from './database.js';
import { Paginator, type PageOf, type PageRequest } from './pagination.js';

export interface FileRecord {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  /** Unix seconds. */
  createdAt: number;
  sha256: string;
}

interface FileRow {
  id: string;
  filename: string;
  bytes: number;
  purpose: string;
  created_at: number;
  sha256: string;
}

const columns = 'id, filename, bytes, purpose, created_at, sha256';

function fromRow(row: FileRow): FileRecord {
  return { id: row.id, filename: row.filename, bytes: row.bytes, purpose: row.purpose, createdAt: row.created_at, sha256: row.sha256 };
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
    this.insertStatement = db.prepare(`
      INSERT INTO files (id, filename, bytes, purpose, created_at, sha256, content, blob_key)
      VALUES (@id, @filename, @bytes, @purpose, @createdAt, @sha256, X'', @blobKey)`);
    this.blobKeyById = db.prepare<[string], { blob_key: string | null }>('SELECT blob_key FROM files WHERE id = ?');
    this.blobUsers = db.prepare<[string], { id: string }>('SELECT id FROM files WHERE blob_key = ? LIMIT 1');
    this.legacyStatement = db.prepare<[number], { id: string }>('SELECT id FROM files WHERE blob_key IS NULL LIMIT ?');
    this.moveStatement = db.prepare<[string, string]>("UPDATE files SET blob_key = ?, content = X'' WHERE id = ?");
    this.byId = db.prepare<[string], FileRow>(`SELECT ${columns} FROM files WHERE id = ?`);
    this.contentById = db.prepare<[string], { content: Buffer }>('SELECT content FROM files WHERE id = ?');
    this.deleteStatement = db.prepare<[string]>('DELETE FROM files WHERE id = ?');
    this.pages = new Paginator<FileRow>(db, { table: 'files', idColumn: 'id', columns, scope: '(@purpose IS NULL OR purpose = @purpose)' });
  }

  /** A file whose content is in the blob store under `blobKey`. */
  async insert(file: FileRecord, blobKey: string): Promise<void> {
    return this.insertSync(file, blobKey);
  }

  /** insert, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  insertSync(file: FileRecord, blobKey: string): void {
    this.insertStatement.run({ ...file, blobKey });
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
    this.moveStatement.run(blobKey, id);
  }

  async find(id: string): Promise<FileRecord | undefined> {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  async list(page: PageRequest, purpose?: string): Promise<PageOf<FileRecord>> {
    const result = this.pages.page(page, { purpose: purpose ?? null });
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
