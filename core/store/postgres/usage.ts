import type pg from 'pg';
import { usageAddParams, usageFromRow, usageSql, type UsageRecord, type UsageRow, type UsageStore } from '../usage.js';
import { execute, query } from './sql.js';

/** usage_daily on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresUsageRepository implements UsageStore {
  constructor(private readonly pool: pg.Pool) {}

  async add(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): Promise<void> {
    await execute(this.pool, usageSql.add, usageAddParams(record, requests, errors));
  }

  async tokensBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
    const [row] = await query<{ tokens: number | null }>(this.pool, usageSql.tokensBetween, [keyId, fromDay, toDay]);
    return row?.tokens ?? 0;
  }

  async range(keyId: string | null, fromDay: string, toDay: string): Promise<UsageRow[]> {
    return (await query<Record<string, string | number>>(this.pool, usageSql.range, { keyId, from: fromDay, to: toDay })).map(usageFromRow);
  }
}
