import type pg from 'pg';
import { apiKeySql, fromRow, toRow, type ApiKeyRecord, type ApiKeyRow } from '../apiKeys.js';
import { announceChangeSql, type PostgresChangeFeed } from './changeFeed.js';
import { inTransaction, query } from './sql.js';

/** The api_keys table on PostgreSQL: the same statements and rows as SQLite's repository. A save
 *  is announced to every node (PostgresChangeFeed), whose key caches then drop what they hold. */
export class PostgresApiKeyRepository {
  private saves = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly changes: PostgresChangeFeed,
  ) {}

  /** Saves through this repository. */
  get saveCount(): number {
    return this.saves;
  }

  /** Moves whenever any node has saved a key (heard through LISTEN), or the feed lost its connection. */
  dataVersion(): number {
    return this.changes.version('api_keys');
  }

  async findByHash(secretHash: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await query<ApiKeyRow>(this.pool, apiKeySql.byHash, [secretHash]);
    return row && fromRow(row);
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await query<ApiKeyRow>(this.pool, apiKeySql.byId, [id]);
    return row && fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await query<ApiKeyRow>(this.pool, apiKeySql.all)).map(fromRow);
  }

  async save(key: ApiKeyRecord): Promise<void> {
    this.saves++;
    await inTransaction(this.pool, async (client) => {
      await query(client, apiKeySql.upsert, toRow(key) as unknown as Record<string, unknown>);
      await query(client, announceChangeSql, ['api_keys']);
    });
  }

  /** Not announced: last_used_at is for people reading the list, which reads the table. */
  async touch(id: string, at: number): Promise<void> {
    await query(this.pool, apiKeySql.touch, [at, id]);
  }
}
