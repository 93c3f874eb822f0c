import type { Db } from './database.js';
import { Paginator, type PagedTable, type PageOf, type PageRequest } from './pagination.js';

export type BatchApi = 'openai' | 'anthropic';
export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';
export type BatchLineState = 'pending' | 'succeeded' | 'errored' | 'canceled' | 'expired';

export interface BatchValidationError {
  code: string;
  line: number | null;
  message: string;
  param: string | null;
}

export interface BatchRecord {
  id: string;
  api: BatchApi;
  keyId: string | null;
  endpoint: string;
  inputFileId: string | null;
  completionWindow: string;
  metadata: Record<string, string> | null;
  status: BatchStatus;
  errors: BatchValidationError[] | null;
  outputFileId: string | null;
  errorFileId: string | null;
  /** Unix seconds. */
  createdAt: number;
  inProgressAt: number | null;
  expiresAt: number;
  finalizingAt: number | null;
  completedAt: number | null;
  failedAt: number | null;
  expiredAt: number | null;
  cancellingAt: number | null;
  cancelledAt: number | null;
  /** Unix ms. */
  updatedAt: number;
}

export interface NewBatchLine {
  line: number;
  customId: string;
  model: string;
  body: string;
}

export interface BatchLineRecord extends NewBatchLine {
  batchId: string;
  state: BatchLineState;
  statusCode: number | null;
  requestId: string | null;
  result: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
}

export type LineCounts = Record<BatchLineState, number> & { total: number };

export interface LineResult {
  state: 'succeeded' | 'errored';
  statusCode: number;
  requestId: string | null;
  result: string;
  promptTokens: number | null;
  completionTokens: number | null;
  finishedAt: number;
}

export interface BatchRow {
  id: string;
  api: BatchApi;
  key_id: string | null;
  endpoint: string;
  input_file_id: string | null;
  completion_window: string;
  metadata: string | null;
  status: BatchStatus;
  errors: string | null;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  updated_at: number;
}

export interface LineRow {
  batch_id: string;
  line: number;
  custom_id: string;
  model: string;
  body: string;
  state: BatchLineState;
  status_code: number | null;
  request_id: string | null;
  result: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
}

const columns =
  'id, api, key_id, endpoint, input_file_id, completion_window, metadata, status, errors, output_file_id, error_file_id, created_at, in_progress_at, expires_at, finalizing_at, completed_at, failed_at, expired_at, cancelling_at, cancelled_at, updated_at';

export function batchFromRow(row: BatchRow): BatchRecord {
  return {
    id: row.id,
    api: row.api,
    keyId: row.key_id,
    endpoint: row.endpoint,
    inputFileId: row.input_file_id,
    completionWindow: row.completion_window,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Record<string, string>),
    status: row.status,
    errors: row.errors === null ? null : (JSON.parse(row.errors) as BatchValidationError[]),
    outputFileId: row.output_file_id,
    errorFileId: row.error_file_id,
    createdAt: row.created_at,
    inProgressAt: row.in_progress_at,
    expiresAt: row.expires_at,
    finalizingAt: row.finalizing_at,
    completedAt: row.completed_at,
    failedAt: row.failed_at,
    expiredAt: row.expired_at,
    cancellingAt: row.cancelling_at,
    cancelledAt: row.cancelled_at,
    updatedAt: row.updated_at,
  };
}

export function lineFromRow(row: LineRow): BatchLineRecord {
  return {
    batchId: row.batch_id,
    line: row.line,
    customId: row.custom_id,
    model: row.model,
    body: row.body,
    state: row.state,
    statusCode: row.status_code,
    requestId: row.request_id,
    result: row.result,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
  };
}

/** Changes of a batch's status and its timestamps, applied together. */
export type BatchPatch = Partial<
  Pick<
    BatchRecord,
    | 'status'
    | 'errors'
    | 'outputFileId'
    | 'errorFileId'
    | 'inProgressAt'
    | 'finalizingAt'
    | 'completedAt'
    | 'failedAt'
    | 'expiredAt'
    | 'cancellingAt'
    | 'cancelledAt'
  >
>;

const patchColumns: Record<keyof BatchPatch, string> = {
  status: 'status',
  errors: 'errors',
  outputFileId: 'output_file_id',
  errorFileId: 'error_file_id',
  inProgressAt: 'in_progress_at',
  finalizingAt: 'finalizing_at',
  completedAt: 'completed_at',
  failedAt: 'failed_at',
  expiredAt: 'expired_at',
  cancellingAt: 'cancelling_at',
  cancelledAt: 'cancelled_at',
};

const lineColumns = 'batch_id, line, custom_id, model, body, state, status_code, request_id, result, prompt_tokens, completion_tokens';

/** The tables' statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const batchSql = {
  insert: `
    INSERT INTO batches (id, api, key_id, endpoint, input_file_id, completion_window, metadata, status, created_at, in_progress_at, expires_at, updated_at)
    VALUES (@id, @api, @keyId, @endpoint, @inputFileId, @completionWindow, @metadata, @status, @createdAt, @inProgressAt, @expiresAt, @updatedAt)`,
  // ON CONFLICT DO NOTHING: validating a file is idempotent (the same file gives the same lines), so
  // a validation that a crash interrupted, or one running on two nodes at once, adds what is missing
  // and leaves the lines already there (perhaps already run) as they are.
  insertLine: `
    INSERT INTO batch_lines (batch_id, line, custom_id, model, body, state) VALUES (@batchId, @line, @customId, @model, @body, 'pending')
    ON CONFLICT (batch_id, line) DO NOTHING`,
  /** insertLine for `count` lines in one statement, bound (batchId, line, customId, model, body)
   *  per line in order (lineRows): one round trip per chunk where the database is remote. */
  insertLines: (count: number) =>
    `INSERT INTO batch_lines (batch_id, line, custom_id, model, body, state) VALUES ${Array.from({ length: count }, () => "(?, ?, ?, ?, ?, 'pending')").join(', ')}
    ON CONFLICT (batch_id, line) DO NOTHING`,
  byId: `SELECT ${columns} FROM batches WHERE id = ?`,
  active: `SELECT ${columns} FROM batches WHERE status IN ('validating', 'in_progress', 'finalizing', 'cancelling') ORDER BY rowid`,
  counts: 'SELECT state, COUNT(*) AS n FROM batch_lines WHERE batch_id = ? GROUP BY state',
  pending: `SELECT ${lineColumns} FROM batch_lines WHERE batch_id = ? AND state = 'pending' AND line > ? ORDER BY line LIMIT ?`,
  // The guard on state = 'pending' makes a line's result final: a second write (a line run twice
  // across a crash and a takeover) changes nothing.
  finishLine: `
    UPDATE batch_lines SET state = @state, status_code = @statusCode, request_id = @requestId, result = @result,
      prompt_tokens = @promptTokens, completion_tokens = @completionTokens, finished_at = @finishedAt,
      lease_owner = NULL, lease_until = NULL
    WHERE batch_id = @batchId AND line = @line AND state = 'pending'`,
  /** closePending's statement, but for `runningCount` lines bound one parameter each after
   *  (state, now, batchId, now) (SQLite's json_each has no PostgreSQL twin under that name). A line
   *  under a live lease runs on some node now: its result is recorded when it finishes. */
  closePending: (runningCount: number) =>
    "UPDATE batch_lines SET state = ?, finished_at = ?, lease_owner = NULL, lease_until = NULL WHERE batch_id = ? AND state = 'pending'" +
    ' AND (lease_until IS NULL OR lease_until <= ?)' +
    (runningCount === 0 ? '' : ` AND line NOT IN (${Array.from({ length: runningCount }, () => '?').join(', ')})`),
  /** claimLines' statement: the lowest pending lines with no live lease, leased to @owner until
   *  @until. `lock` is '' on SQLite (one writer at a time: a claim never sees another half done)
   *  and PostgreSQL's `FOR UPDATE SKIP LOCKED`, so that concurrent claimers each take different
   *  rows instead of waiting on (and then losing) the same ones. RETURNING's order is no order:
   *  the caller sorts. */
  // MATERIALIZED: the picked lines are read once; as a subquery of the UPDATE, PostgreSQL may
  // run it again (per row or per rescan), and each run of a LIMIT .. SKIP LOCKED query picks
  // other rows, so more than `limit` lines would be claimed.
  claimLines: (lock: '' | 'FOR UPDATE SKIP LOCKED') => `
    WITH picked AS MATERIALIZED (
      SELECT line FROM batch_lines
      WHERE batch_id = @batchId AND state = 'pending' AND (lease_until IS NULL OR lease_until <= @now)
      ORDER BY line LIMIT @limit ${lock})
    UPDATE batch_lines SET lease_owner = @owner, lease_until = @until
    WHERE batch_id = @batchId AND line IN (SELECT line FROM picked)
    RETURNING ${lineColumns}`,
  /** renewLeases' statement for `count` lines, bound (until, batchId, owner, ...lines). */
  renewLeases: (count: number) =>
    `UPDATE batch_lines SET lease_until = ? WHERE batch_id = ? AND lease_owner = ? AND state = 'pending' AND line IN (${Array.from({ length: count }, () => '?').join(', ')})`,
  /** releaseLines' statement for `count` lines (null: all the owner's), bound (batchId, owner, ...lines). */
  releaseLines: (count: number | null) =>
    "UPDATE batch_lines SET lease_owner = NULL, lease_until = NULL WHERE batch_id = ? AND lease_owner = ? AND state = 'pending'" +
    (count === null ? '' : ` AND line IN (${Array.from({ length: count }, () => '?').join(', ')})`),
  leaseOwners:
    "SELECT DISTINCT lease_owner FROM batch_lines WHERE batch_id = ? AND state = 'pending' AND lease_owner IS NOT NULL AND lease_until > ? ORDER BY lease_owner",
  linesAfter: `SELECT ${lineColumns} FROM batch_lines WHERE batch_id = ? AND line > ? ORDER BY line LIMIT ?`,
  allLines: `SELECT ${lineColumns} FROM batch_lines WHERE batch_id = ? ORDER BY line`,
  delete: 'DELETE FROM batches WHERE id = ?',
  deleteLines: 'DELETE FROM batch_lines WHERE batch_id = ?',
  all: `SELECT ${columns} FROM batches ORDER BY rowid DESC`,
  // ORDER BY: a GROUP BY's order is the engine's choice.
  statusCounts: 'SELECT status, COUNT(*) AS n FROM batches GROUP BY status ORDER BY status',
  queueDepth:
    "SELECT COUNT(*) AS n FROM batch_lines JOIN batches ON batches.id = batch_lines.batch_id WHERE batch_lines.state = 'pending' AND batches.status = 'in_progress'",
} as const;

/** (CAST: PostgreSQL cannot tell the type of a parameter only tested for NULL.) */
export const batchPages: PagedTable = { table: 'batches', idColumn: 'id', columns, scope: 'api = @api AND (CAST(@keyId AS TEXT) IS NULL OR key_id = @keyId)' };

/** The batch as insert binds it. */
export function batchInsertParams(batch: NewBatch): Record<string, unknown> {
  return { ...batch, metadata: batch.metadata === null ? null : JSON.stringify(batch.metadata) };
}

/** update's statement and parameters: the patch's columns and updated_at, guarded by `onlyIf`. */
export function batchUpdate(id: string, patch: BatchPatch, now: number, onlyIf?: BatchStatus): { sql: string; parameters: Record<string, unknown> } {
  const entries = Object.entries(patch) as [keyof BatchPatch, unknown][];
  const sets = entries.map(([key]) => `${patchColumns[key]} = @${key}`);
  const values = Object.fromEntries(entries.map(([key, value]) => [key, key === 'errors' && value !== null ? JSON.stringify(value) : value]));
  const guard = onlyIf === undefined ? '' : ' AND status = @onlyIf';
  return {
    sql: `UPDATE batches SET ${[...sets, 'updated_at = @updatedAt'].join(', ')} WHERE id = @id${guard}`,
    parameters: { ...values, updatedAt: now, id, ...(onlyIf === undefined ? {} : { onlyIf }) },
  };
}

/** A new batch as create takes it. */
export type NewBatch = Omit<BatchRecord, 'errors' | 'outputFileId' | 'errorFileId' | 'finalizingAt' | 'completedAt' | 'failedAt' | 'expiredAt' | 'cancellingAt' | 'cancelledAt'>;

/** insertLines' parameters, a row per line. */
export function lineRows(batchId: string, lines: readonly NewBatchLine[]): unknown[][] {
  return lines.map((line) => [batchId, line.line, line.customId, line.model, line.body]);
}

/** counts' result from its rows. */
export function lineCounts(rows: readonly { state: BatchLineState; n: number }[]): LineCounts {
  const counts: LineCounts = { pending: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0, total: 0 };
  for (const row of rows) {
    counts[row.state] = row.n;
    counts.total += row.n;
  }
  return counts;
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface BatchStore {
  create(batch: NewBatch, lines?: readonly NewBatchLine[]): Promise<void>;
  find(id: string): Promise<BatchRecord | undefined>;
  active(): Promise<BatchRecord[]>;
  all(): Promise<BatchRecord[]>;
  list(api: BatchApi, page: PageRequest, keyId: string | null): Promise<PageOf<BatchRecord>>;
  update(id: string, patch: BatchPatch, now: number, lines?: readonly NewBatchLine[], onlyIf?: BatchStatus): Promise<boolean>;
  insertLines(batchId: string, lines: readonly NewBatchLine[]): Promise<void>;
  deleteLines(batchId: string): Promise<void>;
  counts(batchId: string): Promise<LineCounts>;
  pending(batchId: string, afterLine: number, limit: number): Promise<BatchLineRecord[]>;
  /** Leases to `owner`, until now + leaseMs, up to `limit` of the lowest pending lines that no
   *  live lease holds (never leased, released, or expired by `now`); them, in line order. Two
   *  claimers, on any nodes, never get the same line while its lease lives. */
  claimLines(batchId: string, owner: string, limit: number, now: number, leaseMs: number): Promise<BatchLineRecord[]>;
  /** Moves the leases `owner` still holds on these pending lines to `until`; how many it held. */
  renewLeases(batchId: string, owner: string, lines: readonly number[], until: number): Promise<number>;
  /** Gives back `owner`'s leases on these lines (all its lines of the batch when omitted) that are
   *  still pending, to be claimed again at once; how many. */
  releaseLines(batchId: string, owner: string, lines?: readonly number[]): Promise<number>;
  /** Who holds live leases on the batch's pending lines at `now`. */
  leaseOwners(batchId: string, now: number): Promise<string[]>;
  finishLine(batchId: string, line: number, result: LineResult): Promise<boolean>;
  closePending(batchId: string, state: 'canceled' | 'expired', now: number, running?: readonly number[]): Promise<number>;
  lines(batchId: string, pageSize?: number): AsyncIterable<BatchLineRecord>;
  allLines(batchId: string): Promise<BatchLineRecord[]>;
  delete(id: string): Promise<boolean>;
  statusCounts(): Promise<{ status: BatchStatus; n: number }[]>;
  queueDepth(): Promise<number>;
}

/** The batches and batch_lines tables: batch jobs, and one row per request with its result. */
export class BatchRepository implements BatchStore {
  private readonly insertBatch;
  private readonly insertLine;
  private readonly byId;
  private readonly activeStatement;
  private readonly countsStatement;
  private readonly pendingStatement;
  private readonly finishLineStatement;
  private readonly finishedLinesStatement;
  private readonly allLinesStatement;
  private readonly deleteStatement;
  private readonly deleteLinesStatement;
  private readonly allStatement;
  private readonly statusCountsStatement;
  private readonly pendingTotalStatement;
  /** closePending's statements, per number of running lines, prepared once each. */
  private readonly closePendingStatements = new Map<number, ReturnType<Db['prepare']>>();
  private readonly claimStatement;
  private readonly leaseOwnersStatement;
  /** renewLeases' and releaseLines' statements, by their text. */
  private readonly leaseStatements = new Map<string, ReturnType<Db['prepare']>>();
  private readonly pages;

  constructor(private readonly db: Db) {
    this.insertBatch = db.prepare(batchSql.insert);
    this.insertLine = db.prepare(batchSql.insertLine);
    this.byId = db.prepare<[string], BatchRow>(batchSql.byId);
    this.activeStatement = db.prepare<[], BatchRow>(batchSql.active);
    this.countsStatement = db.prepare<[string], { state: BatchLineState; n: number }>(batchSql.counts);
    this.pendingStatement = db.prepare<[string, number, number], LineRow>(batchSql.pending);
    this.finishLineStatement = db.prepare(batchSql.finishLine);
    this.finishedLinesStatement = db.prepare<[string, number, number], LineRow>(batchSql.linesAfter);
    this.allLinesStatement = db.prepare<[string], LineRow>(batchSql.allLines);
    this.deleteStatement = db.prepare<[string]>(batchSql.delete);
    this.deleteLinesStatement = db.prepare<[string]>(batchSql.deleteLines);
    this.allStatement = db.prepare<[], BatchRow>(batchSql.all);
    this.statusCountsStatement = db.prepare<[], { status: BatchStatus; n: number }>(batchSql.statusCounts);
    this.pendingTotalStatement = db.prepare<[], { n: number }>(batchSql.queueDepth);
    this.pages = new Paginator<BatchRow>(db, batchPages);
    this.claimStatement = db.prepare<[Record<string, unknown>], LineRow>(batchSql.claimLines(''));
    this.leaseOwnersStatement = db.prepare<[string, number], { lease_owner: string }>(batchSql.leaseOwners);
  }

  /** A new batch, with its lines when they are known (Anthropic's come in the request). */
  async create(batch: NewBatch, lines: readonly NewBatchLine[] = []): Promise<void> {
    this.db.transaction(() => {
      this.insertBatch.run(batchInsertParams(batch));
      for (const line of lines) this.insertLine.run({ batchId: batch.id, ...line });
    })();
  }

  async find(id: string): Promise<BatchRecord | undefined> {
    const row = this.byId.get(id);
    return row && batchFromRow(row);
  }

  /** Batches with work left: validating, running, finalizing or cancelling, oldest first. */
  async active(): Promise<BatchRecord[]> {
    return this.activeStatement.all().map(batchFromRow);
  }

  async all(): Promise<BatchRecord[]> {
    return this.allStatement.all().map(batchFromRow);
  }

  async list(api: BatchApi, page: PageRequest, keyId: string | null): Promise<PageOf<BatchRecord>> {
    const result = this.pages.page(page, { api, keyId });
    return { items: result.items.map(batchFromRow), hasMore: result.hasMore };
  }

  /** Applies a status change (and its timestamps); with `lines`, also inserts the batch's lines,
   *  in the same transaction. With `onlyIf`, nothing changes unless the batch still has that
   *  status (a cancel may have come in meanwhile); returns whether it changed. */
  async update(id: string, patch: BatchPatch, now: number, lines: readonly NewBatchLine[] = [], onlyIf?: BatchStatus): Promise<boolean> {
    return this.updateSync(id, patch, now, lines, onlyIf);
  }

  /** update, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  updateSync(id: string, patch: BatchPatch, now: number, lines: readonly NewBatchLine[] = [], onlyIf?: BatchStatus): boolean {
    const { sql, parameters } = batchUpdate(id, patch, now, onlyIf);
    const statement = this.db.prepare(sql);
    return this.db.transaction(() => {
      const changed = statement.run(parameters).changes > 0;
      if (changed) for (const line of lines) this.insertLine.run({ batchId: id, ...line });
      return changed;
    })();
  }

  /** Adds lines to a batch still validating (a large file is inserted a chunk at a time). */
  async insertLines(batchId: string, lines: readonly NewBatchLine[]): Promise<void> {
    this.db.transaction(() => {
      for (const line of lines) this.insertLine.run({ batchId, ...line });
    })();
  }

  /** Removes a batch's lines: a validation that failed, or one a crash interrupted. */
  async deleteLines(batchId: string): Promise<void> {
    this.deleteLinesStatement.run(batchId);
  }

  async counts(batchId: string): Promise<LineCounts> {
    return lineCounts(this.countsStatement.all(batchId));
  }

  /** Up to `limit` pending lines after line `afterLine`, in file order. */
  async pending(batchId: string, afterLine: number, limit: number): Promise<BatchLineRecord[]> {
    return this.pendingStatement.all(batchId, afterLine, limit).map(lineFromRow);
  }

  /** Records a line's result and its done-state in one statement; false if it was already done. */
  async finishLine(batchId: string, line: number, result: LineResult): Promise<boolean> {
    return this.finishLineStatement.run({ batchId, line, ...result }).changes > 0;
  }

  /** Every line still pending becomes `state` (cancelled or expired), but for the lines running
   *  now (`running`), whose results are recorded when they finish. */
  async closePending(batchId: string, state: 'canceled' | 'expired', now: number, running: readonly number[] = []): Promise<number> {
    let statement = this.closePendingStatements.get(running.length);
    if (!statement) this.closePendingStatements.set(running.length, (statement = this.db.prepare(batchSql.closePending(running.length))));
    return statement.run([state, now, batchId, now, ...running]).changes;
  }

  async claimLines(batchId: string, owner: string, limit: number, now: number, leaseMs: number): Promise<BatchLineRecord[]> {
    const rows = this.claimStatement.all({ batchId, owner, limit, now, until: now + leaseMs });
    return rows.sort((a, b) => a.line - b.line).map(lineFromRow);
  }

  async renewLeases(batchId: string, owner: string, lines: readonly number[], until: number): Promise<number> {
    if (lines.length === 0) return 0;
    return this.leaseStatement(batchSql.renewLeases(lines.length)).run([until, batchId, owner, ...lines]).changes;
  }

  async releaseLines(batchId: string, owner: string, lines?: readonly number[]): Promise<number> {
    if (lines?.length === 0) return 0;
    return this.leaseStatement(batchSql.releaseLines(lines?.length ?? null)).run([batchId, owner, ...(lines ?? [])]).changes;
  }

  async leaseOwners(batchId: string, now: number): Promise<string[]> {
    return this.leaseOwnersStatement.all(batchId, now).map((row) => row.lease_owner);
  }

  private leaseStatement(sql: string): ReturnType<Db['prepare']> {
    let statement = this.leaseStatements.get(sql);
    if (!statement) this.leaseStatements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** Lines in file order, a page at a time (the results are read without holding them all). */
  async *lines(batchId: string, pageSize = 1000): AsyncGenerator<BatchLineRecord> {
    let after = 0;
    for (;;) {
      const rows = this.finishedLinesStatement.all(batchId, after, pageSize);
      for (const row of rows) yield lineFromRow(row);
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.line;
    }
  }

  async allLines(batchId: string): Promise<BatchLineRecord[]> {
    return this.allLinesStatement.all(batchId).map(lineFromRow);
  }

  async delete(id: string): Promise<boolean> {
    return this.deleteStatement.run(id).changes > 0;
  }

  async statusCounts(): Promise<{ status: BatchStatus; n: number }[]> {
    return this.statusCountsStatement.all();
  }

  /** Lines waiting to run across every running batch. */
  async queueDepth(): Promise<number> {
    return this.pendingTotalStatement.get()!.n;
  }
}
