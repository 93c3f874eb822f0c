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
    this.addStatement = db.prepare(`
      INSERT INTO usage_daily (key_id, model, day, requests, prompt_tokens, completion_tokens, errors)
      VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (key_id, model, day) DO UPDATE SET requests = requests + excluded.requests,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens,
        completion_tokens = completion_tokens + excluded.completion_tokens,
        errors = errors + excluded.errors`);
    this.tokensSince = db.prepare<[string, string, string], { tokens: number | null }>(
      'SELECT SUM(prompt_tokens + completion_tokens) AS tokens FROM usage_daily WHERE key_id = ? AND day >= ? AND day <= ?',
    );
    this.rangeStatement = db.prepare<{ keyId: string | null; from: string; to: string }, Record<string, string | number>>(`
      SELECT key_id, model, day, requests, prompt_tokens, completion_tokens, errors FROM usage_daily
      WHERE (@keyId IS NULL OR key_id = @keyId) AND day >= @from AND day <= @to
      ORDER BY day, key_id, model`);
  }

  /** Adds `requests` requests' use (`errors` of them failed; by default the one record's). */
  async add(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): Promise<void> {
    return this.addSync(record, requests, errors);
  }

  /** add, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  addSync(record: UsageRecord, requests = 1, errors = record.error ? 1 : 0): void {
    this.addStatement.run(record.keyId, record.model, record.day, requests, record.promptTokens, record.completionTokens, errors);
  }

  /** Tokens (prompt + completion) a key used on the days from `fromDay` to `toDay`, inclusive. */
  async tokensBetween(keyId: string, fromDay: string, toDay: string): Promise<number> {
    return this.tokensSince.get(keyId, fromDay, toDay)?.tokens ?? 0;
  }

  async range(keyId: string | null, fromDay: string, toDay: string): Promise<UsageRow[]> {
    return this.rangeStatement.all({ keyId, from: fromDay, to: toDay }).map((row) => camelCaseRow(row) as unknown as UsageRow);
  }
}
