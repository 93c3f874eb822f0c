import { fromRow, responseSql, toRow, type ResponseRow, type ResponseStore, type StoredResponse } from '../responses.js';
import { execute, query, type Executor } from './sql.js';

/** The responses table on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresResponseRepository implements ResponseStore {
  constructor(private readonly db: Executor) {}

  async insert(stored: StoredResponse): Promise<void> {
    await execute(this.db, responseSql.insert, toRow(stored) as unknown as Record<string, unknown>);
  }

  async find(id: string): Promise<StoredResponse | undefined> {
    const [row] = await query<ResponseRow>(this.db, responseSql.byId, [id]);
    return row && fromRow(row);
  }

  async delete(id: string): Promise<boolean> {
    return (await execute(this.db, responseSql.delete, [id])) > 0;
  }
}
