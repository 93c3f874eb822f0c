import type { Db } from './database.js';
import { camelCaseRow } from './rows.js';

export interface RequestLogEntry {
  id: string;
  createdAt: number;
  route: string;
  method: string;
  model: string | null;
  status: number;
  promptTokens: number | null;
  completionTokens: number | null;
  latencyMs: number;
  ttftMs: number | null;
  stream: boolean;
  errorCode: string | null;
  promptText: string | null;
  keyId: string | null;
}

export interface RequestLogRow {
  id: string;
  created_at: number;
  route: string;
  method: string;
  model: string | null;
  status: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  latency_ms: number;
  ttft_ms: number | null;
  stream: number;
  error_code: string | null;
  prompt_text: string | null;
  key_id: string | null;
}

/** A filtered page of the log, newest first; `after` is the `seq` of the last row of the page before. */
export interface RequestLogQuery {
  keyId?: string;
  model?: string;
  /** An exact status, or a class as [lowest, highest]. */
  status?: number | [number, number];
  /** Unix ms: rows created at or after this. */
  since?: number;
  after?: number;
  limit: number;
}

export function fromRow(row: RequestLogRow): RequestLogEntry {
  return { ...camelCaseRow(row), stream: row.stream === 1 } as RequestLogEntry;
}

const columns = 'id, created_at, route, method, model, status, prompt_tokens, completion_tokens, latency_ms, ttft_ms, stream, error_code, prompt_text, key_id';

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const requestLogSql = {
  insert: `INSERT INTO request_log (${columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  /** insert for `count` entries in one statement, each bound as insert binds one. */
  insertMany: (count: number) => `INSERT INTO request_log (${columns}) VALUES ${Array.from({ length: count }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
  recent: `SELECT ${columns} FROM request_log ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  // One statement for every combination of filters: a NULL parameter turns its filter off (the
  // CASTs let PostgreSQL type a parameter only tested for NULL). Rows are in arrival order
  // (rowid), so the rowid is the cursor.
  query: `
    SELECT rowid AS seq, ${columns} FROM request_log
    WHERE (CAST(@after AS BIGINT) IS NULL OR rowid < @after)
      AND (CAST(@keyId AS TEXT) IS NULL OR key_id = @keyId)
      AND (CAST(@model AS TEXT) IS NULL OR model = @model)
      AND (CAST(@statusLow AS BIGINT) IS NULL OR status BETWEEN @statusLow AND @statusHigh)
      AND (CAST(@since AS BIGINT) IS NULL OR created_at >= @since)
    ORDER BY rowid DESC LIMIT @limit`,
};

/** insert's parameters, positional: no object is walked by name on this per-request path. */
export function requestLogInsertParams(entry: RequestLogEntry): unknown[] {
  return [
    entry.id,
    entry.createdAt,
    entry.route,
    entry.method,
    entry.model,
    entry.status,
    entry.promptTokens,
    entry.completionTokens,
    entry.latencyMs,
    entry.ttftMs,
    entry.stream ? 1 : 0,
    entry.errorCode,
    entry.promptText,
    entry.keyId,
  ];
}

/** query's parameters. */
export function requestLogQueryParams(query: RequestLogQuery): Record<string, string | number | null> {
  const [statusLow, statusHigh] = query.status === undefined ? [null, null] : typeof query.status === 'number' ? [query.status, query.status] : query.status;
  return { after: query.after ?? null, keyId: query.keyId ?? null, model: query.model ?? null, statusLow, statusHigh, since: query.since ?? null, limit: query.limit };
}

/** A row of `query` as callers see it. */
export function queriedFromRow(row: RequestLogRow & { seq: number }): RequestLogEntry & { seq: number } {
  const { seq, ...rest } = row;
  return { ...fromRow(rest), seq };
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface RequestLogStore {
  query(query: RequestLogQuery): Promise<(RequestLogEntry & { seq: number })[]>;
  insert(entry: RequestLogEntry): Promise<void>;
  recent(limit?: number): Promise<RequestLogEntry[]>;
}

/** The request log: one row per API request, written when the response ends. */
export class RequestLogRepository implements RequestLogStore {
  private readonly insertStatement;
  private readonly recentStatement;
  private readonly queryStatement;

  constructor(db: Db) {
    this.insertStatement = db.prepare(requestLogSql.insert);
    this.recentStatement = db.prepare<[number], RequestLogRow>(requestLogSql.recent);
    this.queryStatement = db.prepare<Record<string, string | number | null>, RequestLogRow & { seq: number }>(requestLogSql.query);
  }

  /** Rows matching the filters, newest first, each with its cursor (`seq`). */
  async query(query: RequestLogQuery): Promise<(RequestLogEntry & { seq: number })[]> {
    return this.queryStatement.all(requestLogQueryParams(query)).map(queriedFromRow);
  }

  async insert(entry: RequestLogEntry): Promise<void> {
    return this.insertSync(entry);
  }

  /** insert, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  insertSync(entry: RequestLogEntry): void {
    this.insertStatement.run(requestLogInsertParams(entry));
  }

  async recent(limit = 100): Promise<RequestLogEntry[]> {
    return this.recentStatement.all(limit).map(fromRow);
  }
}
