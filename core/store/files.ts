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

/** The files table: uploads and their content (a BLOB in the row; read only when asked for). */
export class FileRepository {
  private readonly insertStatement;
  private readonly byId;
  private readonly contentById;
  private readonly deleteStatement;
  private readonly pages;

  constructor(db: Db) {
    this.insertStatement = db.prepare(`
      INSERT INTO files (id, filename, bytes, purpose, created_at, sha256, content)
      VALUES (@id, @filename, @bytes, @purpose, @createdAt, @sha256, @content)`);
    this.byId = db.prepare<[string], FileRow>(`SELECT ${columns} FROM files WHERE id = ?`);
    this.contentById = db.prepare<[string], { content: Buffer }>('SELECT content FROM files WHERE id = ?');
    this.deleteStatement = db.prepare<[string]>('DELETE FROM files WHERE id = ?');
    this.pages = new Paginator<FileRow>(db, { table: 'files', idColumn: 'id', columns, scope: '(@purpose IS NULL OR purpose = @purpose)' });
  }

  insert(file: FileRecord, content: Buffer): void {
    this.insertStatement.run({ ...file, content });
  }

  find(id: string): FileRecord | undefined {
    const row = this.byId.get(id);
    return row && fromRow(row);
  }

  content(id: string): Buffer | undefined {
    return this.contentById.get(id)?.content;
  }

  list(page: PageRequest, purpose?: string): PageOf<FileRecord> {
    const result = this.pages.page(page, { purpose: purpose ?? null });
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  delete(id: string): boolean {
    return this.deleteStatement.run(id).changes > 0;
  }
}
