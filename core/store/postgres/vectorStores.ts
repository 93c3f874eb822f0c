import { pageQuery, toPage, type PageOf, type PageRequest } from '../pagination.js';
import {
  vectorStoreFromRow,
  vectorStorePages,
  vectorStoreSql,
  vectorStoreToRow,
  type VectorStoreRecord,
  type VectorStoreRow,
  type VectorStoreStore,
} from '../vectorStores.js';
import { atomically, execute, query, type Executor } from './sql.js';

/** vector_stores on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresVectorStoreRepository implements VectorStoreStore {
  constructor(private readonly executor: Executor) {}

  /** The row stays locked from the read to the save, so changes of one store from several nodes
   *  apply one after another, each to what the one before saved. */
  async modify(id: string, change: (store: VectorStoreRecord) => VectorStoreRecord): Promise<VectorStoreRecord | undefined> {
    return atomically(this.executor, async (client) => {
      const [row] = await query<VectorStoreRow>(client, `${vectorStoreSql.byId} FOR UPDATE`, [id]);
      if (!row) return undefined;
      const changed = change(vectorStoreFromRow(row));
      await execute(client, vectorStoreSql.upsert, { ...vectorStoreToRow(changed) });
      return changed;
    });
  }

  async save(store: VectorStoreRecord): Promise<void> {
    await execute(this.executor, vectorStoreSql.upsert, { ...vectorStoreToRow(store) });
  }

  async find(id: string): Promise<VectorStoreRecord | undefined> {
    const [row] = await query<VectorStoreRow>(this.executor, vectorStoreSql.byId, [id]);
    return row && vectorStoreFromRow(row);
  }

  async findByName(name: string): Promise<VectorStoreRecord | undefined> {
    const [row] = await query<VectorStoreRow>(this.executor, vectorStoreSql.byName, [name]);
    return row && vectorStoreFromRow(row);
  }

  async list(page: PageRequest): Promise<PageOf<VectorStoreRecord>> {
    const { sql, parameters } = pageQuery(vectorStorePages, page, {});
    const result = toPage(await query<VectorStoreRow>(this.executor, sql, parameters), page);
    return { items: result.items.map(vectorStoreFromRow), hasMore: result.hasMore };
  }

  async touch(id: string, at: number): Promise<void> {
    await execute(this.executor, vectorStoreSql.touch, [at, id]);
  }

  async delete(id: string): Promise<boolean> {
    return (await execute(this.executor, vectorStoreSql.delete, [id])) > 0;
  }
}
