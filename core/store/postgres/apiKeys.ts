import type pg from 'pg';
import { apiKeySql, fromRow, toRow, type ApiKeyRecord, type ApiKeyRow, type ApiKeyStore } from '../apiKeys.js';
import { announceChangeSql, type PostgresChangeFeed } from './changeFeed.js';
import { atomically, query, type Executor } from './sql.js';

/** The api_keys table on PostgreSQL: the same statements and rows as SQLite's repository. A save
 *  is announced to every node (PostgresChangeFeed), whose key caches then drop what they hold. */
export class PostgresApiKeyRepository implements ApiKeyStore {
  private saves = 0;

  constructor(
    private readonly db: Executor,
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
    const [row] = await query<ApiKeyRow>(this.db, apiKeySql.byHash, [secretHash]);
    return row && fromRow(row);
  }

  async find(id: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await query<ApiKeyRow>(this.db, apiKeySql.byId, [id]);
    return row && fromRow(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await query<ApiKeyRow>(this.db, apiKeySql.all)).map(fromRow);
  }

  async save(key: ApiKeyRecord): Promise<void> {
    this.saves++;
    await atomically(this.db, (client) => this.saveIn(client, key));
  }

  /** The row stays locked from the read to the save, so changes of one key from several nodes
   *  apply one after another, each to what the one before saved. */
  async modify(id: string, change: (key: ApiKeyRecord) => ApiKeyRecord): Promise<ApiKeyRecord | undefined> {
    return atomically(this.db, async (client) => {
      const [row] = await query<ApiKeyRow>(client, `${apiKeySql.byId} FOR UPDATE`, [id]);
      if (!row) return undefined;
      const changed = change(fromRow(row));
      this.saves++;
      await this.saveIn(client, changed);
      return changed;
    });
  }

  private async saveIn(client: pg.PoolClient, key: ApiKeyRecord): Promise<void> {
    await query(client, apiKeySql.upsert, toRow(key) as unknown as Record<string, unknown>);
    await query(client, announceChangeSql, ['api_keys']);
  }

  /** Not announced: last_used_at is for people reading the list, which reads the table. */
  async touch(id: string, at: number): Promise<void> {
    await query(this.db, apiKeySql.touch, [at, id]);
  }
}
