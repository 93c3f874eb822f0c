import { fileInsertParams, filePageParams, filePages, fileSql, fromRow, noContent, type FileRecord, type FileRow, type FileStore } from '../files.js';
import { pageQuery, toPage, type PageOf, type PageRequest } from '../pagination.js';
import { execute, query, type Executor } from './sql.js';

/** The files table on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresFileRepository implements FileStore {
  constructor(private readonly db: Executor) {}

  async insert(file: FileRecord, blobKey: string): Promise<void> {
    await execute(this.db, fileSql.insert, fileInsertParams(file, blobKey));
  }

  async blobKey(id: string): Promise<string | null | undefined> {
    const [row] = await query<{ blob_key: string | null }>(this.db, fileSql.blobKeyById, [id]);
    return row?.blob_key;
  }

  async blobInUse(key: string): Promise<boolean> {
    return (await query(this.db, fileSql.blobUsers, [key])).length > 0;
  }

  async legacyIds(limit: number): Promise<string[]> {
    return (await query<{ id: string }>(this.db, fileSql.legacy, [limit])).map((row) => row.id);
  }

  async legacyContent(id: string): Promise<Buffer | undefined> {
    const [row] = await query<{ content: Buffer }>(this.db, fileSql.contentById, [id]);
    return row?.content;
  }

  async moveToBlob(id: string, blobKey: string): Promise<void> {
    await execute(this.db, fileSql.moveToBlob, [blobKey, noContent, id]);
  }

  async find(id: string): Promise<FileRecord | undefined> {
    const [row] = await query<FileRow>(this.db, fileSql.byId, [id]);
    return row && fromRow(row);
  }

  async list(page: PageRequest, purpose?: string): Promise<PageOf<FileRecord>> {
    const { sql, parameters } = pageQuery(filePages, page, filePageParams(purpose));
    const result = toPage(await query<FileRow>(this.db, sql, parameters), page);
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  async delete(id: string): Promise<boolean> {
    return (await execute(this.db, fileSql.delete, [id])) > 0;
  }
}
