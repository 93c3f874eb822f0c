import type { Db } from './database.js';
import { camelCaseRow } from './rows.js';

export interface UsageRow {
  keyId: string;
  model: string;
  day: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  errors: number;
}

export interface UsageRecord {
  keyId: string;
  model: string;
  day: string;
  promptTokens: number;
  completionTokens: number;
  error: boolean;
}

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). The CASTs
 *  let PostgreSQL type a parameter only tested for NULL, and keep a SUM a BIGINT (PostgreSQL's
 *  SUM of BIGINTs is NUMERIC). */
export const usageSql = {
  add: `
    INSERT INTO usage_daily (key_id, model, day, requests, prompt_tokens, completion_tokens, errors)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (key_id, model, day) DO UPDATE SET requests = usage_daily.requests + excluded.requests,
      prompt_tokens = usage_daily.prompt_tokens + excluded.prompt_tokens,
      completion_tokens = usage_daily.completion_tokens + excluded.completion_tokens,
      errors = usage_daily.errors + excluded.errors`,
  tokensBetween: 'SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) AS tokens FROM usage_daily WHERE key_id = ? AND day >= ? AND day <= ?',
  range: `
    SELECT key_id, model, day, requests, prompt_tokens, completion_tokens, errors FROM usage_daily
    WHERE (CAST(@keyId AS TEXT) IS NULL OR key_id = @keyId) AND day >= @from AND day <= @to
    ORDER BY day, key_id, model`,
} as const;

/** add's parameters. */
export function usageAddParams(record: UsageRecord, requests: number, errors: number): unknown[] {
  return [record.keyId, record.model, record.day, requests, record.promptTokens, record.completionTokens, errors];
}

/** A row of `range` as callers see it. */
export function usageFromRow(row: Record<string, string | number>): UsageRow {
  return camelCaseRow(row) as unknown as UsageRow;
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface UsageStore {
  add(record: UsageRecord, requests?: number, errors?: number): Promise<void>;
  tokensBetween(keyId: string, fromDay: string, toDay: string): Promise<number>;
  range(keyId: string | null, fromDay: string, toDay: string): Promise<UsageRow[]>;
}

/** Usage per key × model × UTC day. Requests add to their row in one upsert (atomic); the
 *  RequestLedger sums the requests that end in one event-loop turn into one upsert per row. */
export class UsageRepository implements UsageStore {
  private readonly addStatement;
  private readonly tokensSince;
  private readonly rangeStatement;

  constructor(db: Db) {
    this.addStatement = db.prepare(usageSql.add);
    this.tokensSince = db.prepare<[string, string, string], { tokens: number | null }>(usageSql.tokensBetween);
    this.rangeStatement = db.prepare<{ keyId: string | null; from: string; to: string }, Record<string, string | number>>(usageSql.range);
  }

  /** Adds `requests` requests' use (`errors` of them failed; by default the one record's). */
  async add(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): Promise<void> {
    return this.addSync(record, requests, errors);
  }

  /** add, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  addSync(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): void {
    this.addStatement.run(usageAddParams(record, requests, errors));
  }

  /** Tokens (prompt + completion) a key used on the days from `fromDay` to `toDay`, inclusive. */
  async tokensBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
    return this.tokensSince.get(keyId, fromDay, toDay)?.tokens ?? 0;
  }

  async range(keyId: string | null, fromDay: string, toDay: string): Promise<UsageRow[]> {
    return this.rangeStatement.all({ keyId, from: fromDay, to: toDay }).map(usageFromRow);
  }
}
