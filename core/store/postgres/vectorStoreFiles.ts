import { pageQuery, toPage, type PageOf, type PageRequest } from '../pagination.js';
import {
  countsFromRow,
  vectorStoreFileFromRow,
  vectorStoreFilePageParams,
  vectorStoreFilePages,
  vectorStoreFileSql,
  vectorStoreFileToRow,
  type FileCounts,
  type VectorStoreFileCountsRow,
  type VectorStoreFileRecord,
  type VectorStoreFileRow,
  type VectorStoreFileStatus,
  type VectorStoreFileStore,
} from '../vectorStoreFiles.js';
import { execute, query, type Executor } from './sql.js';

/** vector_store_files on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresVectorStoreFileRepository implements VectorStoreFileStore {
  constructor(private readonly executor: Executor) {}

  async save(file: VectorStoreFileRecord): Promise<void> {
    await execute(this.executor, vectorStoreFileSql.upsert, { ...vectorStoreFileToRow(file) });
  }

  async find(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord | undefined> {
    const [row] = await query<VectorStoreFileRow>(this.executor, vectorStoreFileSql.byKey, [vectorStoreId, fileId]);
    return row && vectorStoreFileFromRow(row);
  }

  async findIndexedContent(vectorStoreId: string, sha256: string): Promise<VectorStoreFileRecord | undefined> {
    const [row] = await query<VectorStoreFileRow>(this.executor, vectorStoreFileSql.byContent, [vectorStoreId, sha256]);
    return row && vectorStoreFileFromRow(row);
  }

  async duplicates(vectorStoreId: string, fileId: string): Promise<VectorStoreFileRecord[]> {
    return (await query<VectorStoreFileRow>(this.executor, vectorStoreFileSql.duplicates, [vectorStoreId, fileId])).map(vectorStoreFileFromRow);
  }

  async storesHolding(fileId: string): Promise<string[]> {
    return (await query<{ vector_store_id: string }>(this.executor, vectorStoreFileSql.storesHolding, [fileId])).map((row) => row.vector_store_id);
  }

  async list(vectorStoreId: string, page: PageRequest, status?: VectorStoreFileStatus): Promise<PageOf<VectorStoreFileRecord>> {
    const { sql, parameters } = pageQuery(vectorStoreFilePages, page, vectorStoreFilePageParams(vectorStoreId, status));
    const result = toPage(await query<VectorStoreFileRow>(this.executor, sql, parameters), page);
    return { items: result.items.map(vectorStoreFileFromRow), hasMore: result.hasMore };
  }

  async counts(vectorStoreId: string): Promise<FileCounts & { usageBytes: number }> {
    const [row] = await query<VectorStoreFileCountsRow>(this.executor, vectorStoreFileSql.counts, [vectorStoreId]);
    return countsFromRow(row!);
  }

  async delete(vectorStoreId: string, fileId: string): Promise<boolean> {
    return (await execute(this.executor, vectorStoreFileSql.delete, [vectorStoreId, fileId])) > 0;
  }
}
