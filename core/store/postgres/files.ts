import type pg from 'pg';
import { fileInsertParams, filePageParams, filePages, fileSql, fromRow, noContent, type FileRecord, type FileRow, type FileStore } from '../files.js';
import { pageQuery, toPage, type PageOf, type PageRequest } from '../pagination.js';
import { execute, query } from './sql.js';

/** The files table on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresFileRepository implements FileStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(file: FileRecord, blobKey: string): Promise<void> {
    await execute(this.pool, fileSql.insert, fileInsertParams(file, blobKey));
  }

  async blobKey(id: string): Promise<string | null | undefined> {
    const [row] = await query<{ blob_key: string | null }>(this.pool, fileSql.blobKeyById, [id]);
    return row?.blob_key;
  }

  async blobInUse(key: string): Promise<boolean> {
    return (await query(this.pool, fileSql.blobUsers, [key])).length > 0;
  }

  async legacyIds(limit: number): Promise<string[]> {
    return (await query<{ id: string }>(this.pool, fileSql.legacy, [limit])).map((row) => row.id);
  }

  async legacyContent(id: string): Promise<Buffer | undefined> {
    const [row] = await query<{ content: Buffer }>(this.pool, fileSql.contentById, [id]);
    return row?.content;
  }

  async moveToBlob(id: string, blobKey: string): Promise<void> {
    await execute(this.pool, fileSql.moveToBlob, [blobKey, noContent, id]);
  }

  async find(id: string): Promise<FileRecord | undefined> {
    const [row] = await query<FileRow>(this.pool, fileSql.byId, [id]);
    return row && fromRow(row);
  }

  async list(page: PageRequest, purpose?: string): Promise<PageOf<FileRecord>> {
    const { sql, parameters } = pageQuery(filePages, page, filePageParams(purpose));
    const result = toPage(await query<FileRow>(this.pool, sql, parameters), page);
    return { items: result.items.map(fromRow), hasMore: result.hasMore };
  }

  async delete(id: string): Promise<boolean> {
    return (await execute(this.pool, fileSql.delete, [id])) > 0;
  }
}
