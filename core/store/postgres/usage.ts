import { usageAddParams, usageFromRow, usageSql, type UsageRecord, type UsageRow, type UsageStore } from '../usage.js';
import { execute, query, type Executor } from './sql.js';

/** usage_daily on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresUsageRepository implements UsageStore {
  constructor(private readonly db: Executor) {}

  async add(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): Promise<void> {
    await execute(this.db, usageSql.add, usageAddParams(record, requests, errors));
  }

  async tokensBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
    const [row] = await query<{ tokens: number | null }>(this.db, usageSql.tokensBetween, [keyId, fromDay, toDay]);
    return row?.tokens ?? 0;
  }

  async range(keyId: string | null, fromDay: string, toDay: string): Promise<UsageRow[]> {
    return (await query<Record<string, string | number>>(this.db, usageSql.range, { keyId, from: fromDay, to: toDay })).map(usageFromRow);
  }
}
