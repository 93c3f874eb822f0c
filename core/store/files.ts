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

/** The files table: uploads and where their content is (a key of the blob store; rows from
 *  before the blob store hold it in a BLOB until it is moved). */
export class FileRepository {
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
  insert(file: FileRecord, blobKey: string): void {
    this.insertStatement.run({ ...file, blobKey });
  }

  blobKey(id: string): string | null | undefined {
    return this.blobKeyById.get(id)?.blob_key;
  }

  /** Whether any file still uses this blob (the data dir stores equal contents once). */
  blobInUse(key: string): boolean {
    return this.blobUsers.get(key) !== undefined;
  }

  /** Files whose content is still in their row (from before the blob store), a few at a time. */
  legacyIds(limit: number): string[] {
    return this.legacyStatement.all(limit).map((row) => row.id);
  }

  /** The content of a row written before the blob store. */
  legacyContent(id: string): Buffer | undefined {
    return this.contentById.get(id)?.content;
  }

  /** The row's content has been copied to the blob store: point at it, and drop the copy in SQLite. */
  moveToBlob(id: string, blobKey: string): void {
    this.moveStatement.run(blobKey, id);
  }

  find(id: string): FileRecord | undefined {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  list(page: PageRequest, purpose?: string): PageOf<FileRecord> {
    const result = this.pages.page(page, { purpose: purpose ?? null });
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  delete(id: string): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }
}
