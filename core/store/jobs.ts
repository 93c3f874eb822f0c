import type { Db } from './database.js';

export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRecord {
  id: string;
  kind: string;
  payload: unknown;
  state: JobState;
  /** Times the job was started. */
  attempts: number;
  progressDone: number;
  progressTotal: number | null;
  error: string | null;
  /** host:pid:token of the runner holding a running job. */
  owner: string | null;
  /** Unix ms, as every time of this table. */
  heartbeatAt: number | null;
  runAfter: number;
  createdAt: number;
  updatedAt: number;
}

export interface JobRow {
  id: string;
  kind: string;
  payload: string;
  state: JobState;
  attempts: number;
  progress_done: number;
  progress_total: number | null;
  error: string | null;
  owner: string | null;
  heartbeat_at: number | null;
  run_after: number;
  created_at: number;
  updated_at: number;
}

export function jobFromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    payload: JSON.parse(row.payload) as unknown,
    state: row.state,
    attempts: row.attempts,
    progressDone: row.progress_done,
    progressTotal: row.progress_total,
    error: row.error,
    owner: row.owner,
    heartbeatAt: row.heartbeat_at,
    runAfter: row.run_after,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const columns = 'id, kind, payload, state, attempts, progress_done, progress_total, error, owner, heartbeat_at, run_after, created_at, updated_at';

/** `@kind0, @kind1, …`: a list of kinds bound one parameter each (SQLite's json_each has no
 *  PostgreSQL twin under that name, so a statement is built per list length). */
function kindList(count: number): string {
  return Array.from({ length: count }, (_, index) => `@kind${index}`).join(', ');
}

/** The parameters behind kindList's placeholders. */
export function kindParams(kinds: readonly string[]): Record<string, string> {
  return Object.fromEntries(kinds.map((kind, index) => [`kind${index}`, kind]));
}

/** The table's statements, in SQL both engines run (see core/store/postgres/sql.ts). */
export const jobSql = {
  insert: `
    INSERT INTO jobs (id, kind, payload, state, created_at, updated_at) VALUES (@id, @kind, @payload, 'queued', @now, @now)`,
  byId: `SELECT ${columns} FROM jobs WHERE id = ?`,
  running: `SELECT ${columns} FROM jobs WHERE state = 'running'`,
  heartbeat: "UPDATE jobs SET heartbeat_at = @now WHERE id = @id AND owner = @owner AND state = 'running'",
  progress: 'UPDATE jobs SET progress_done = @done, progress_total = @total, heartbeat_at = @now, updated_at = @now WHERE id = @id',
  finish: 'UPDATE jobs SET state = @state, error = @error, owner = NULL, updated_at = @now WHERE id = @id',
  // A null-safe owner compare both engines spell alike (SQLite's `IS @owner` is PostgreSQL's IS
  // NOT DISTINCT FROM); CAST: PostgreSQL cannot type a parameter only tested for NULL.
  requeue: `
    UPDATE jobs SET state = 'queued', owner = NULL, run_after = @runAfter, attempts = attempts - @attemptsBack, error = @error, updated_at = @now
    WHERE id = @id AND state = 'running' AND (owner = @owner OR (owner IS NULL AND CAST(@owner AS TEXT) IS NULL))`,
  active: `SELECT ${columns} FROM jobs WHERE kind = ? AND state IN ('queued', 'running') ORDER BY created_at, rowid`,
  list: `SELECT ${columns} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?`,
  unfinished: `SELECT ${columns} FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, rowid`,
  /** When the next queued job of `kindCount` kinds (kindParams) is due. */
  nextDue: (kindCount: number) => `SELECT MIN(run_after) AS at FROM jobs WHERE state = 'queued' AND kind IN (${kindList(kindCount)})`,
  /** Takes the oldest due queued job of `kindCount` kinds (kindParams) in one statement. `lock` is
   *  PostgreSQL's `FOR UPDATE SKIP LOCKED`, text SQLite cannot parse (nor needs: a write holds the
   *  whole file, so the pick and the update are never interleaved). On PostgreSQL several nodes
   *  claim at once: without the lock two would pick the same row, and each node skips the rows
   *  the others are taking instead of queueing behind them. The outer `state = 'queued'` is
   *  checked again on the row as it is when updated. */
  claim: (kindCount: number, lock: '' | 'FOR UPDATE SKIP LOCKED') => `
    UPDATE jobs SET state = 'running', owner = @owner, heartbeat_at = @now, attempts = attempts + 1, updated_at = @now
    WHERE state = 'queued' AND id = (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= @now AND kind IN (${kindList(kindCount)})
      ORDER BY created_at, rowid LIMIT 1 ${lock})
    RETURNING ${columns}`,
};

/** requeue's parameters. */
export function requeueParams(id: string, owner: string | null, options: { runAfter: number; countAttempt: boolean; error?: string; now: number }): Record<string, unknown> {
  return { id, owner, runAfter: options.runAfter, attemptsBack: options.countAttempt ? 0 : 1, error: options.error ?? null, now: options.now };
}

/** What callers may do with this table: every method returns a promise, so that a database other than SQLite (PostgreSQL) can implement it. */
export interface JobStore {
  enqueue(id: string, kind: string, payload: unknown, now: number): Promise<void>;
  find(id: string): Promise<JobRecord | undefined>;
  claim(kinds: readonly string[], owner: string, now: number): Promise<JobRecord | undefined>;
  active(kind: string): Promise<JobRecord[]>;
  list(limit: number): Promise<JobRecord[]>;
  unfinished(): Promise<JobRecord[]>;
  running(): Promise<JobRecord[]>;
  heartbeat(id: string, owner: string, now: number): Promise<void>;
  progress(id: string, done: number, total: number, now: number): Promise<void>;
  finish(id: string, state: 'done' | 'failed', error: string | null, now: number): Promise<void>;
  requeue(id: string, owner: string | null, options: { runAfter: number; countAttempt: boolean; error?: string; now: number }): Promise<boolean>;
  nextDue(kinds: readonly string[]): Promise<number | undefined>;
}

/** The jobs table: a durable queue shared by every process on the data dir. Claiming is one
 *  UPDATE, so two runners (the server and a CLI) never take the same job. */
export class JobRepository implements JobStore {
  private readonly insertStatement;
  private readonly byId;
  private readonly runningStatement;
  private readonly heartbeatStatement;
  private readonly progressStatement;
  private readonly finishStatement;
  private readonly requeueStatement;
  private readonly activeStatement;
  private readonly listStatement;
  private readonly unfinishedStatement;
  /** Statements built per number of kinds (claim, nextDue), prepared once each. */
  private readonly byKindCount = new Map<string, ReturnType<Db['prepare']>>();

  constructor(private readonly db: Db) {
    this.insertStatement = db.prepare(jobSql.insert);
    this.byId = db.prepare<[string], JobRow>(jobSql.byId);
    this.runningStatement = db.prepare<[], JobRow>(jobSql.running);
    this.heartbeatStatement = db.prepare<{ id: string; owner: string; now: number }>(jobSql.heartbeat);
    this.progressStatement = db.prepare<{ id: string; done: number; total: number; now: number }>(jobSql.progress);
    this.finishStatement = db.prepare<{ id: string; state: JobState; error: string | null; now: number }>(jobSql.finish);
    this.requeueStatement = db.prepare(jobSql.requeue);
    this.activeStatement = db.prepare<[string], JobRow>(jobSql.active);
    this.listStatement = db.prepare<[number], JobRow>(jobSql.list);
    this.unfinishedStatement = db.prepare<[], JobRow>(jobSql.unfinished);
  }

  private prepared(sql: string) {
    let statement = this.byKindCount.get(sql);
    if (!statement) this.byKindCount.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  async enqueue(id: string, kind: string, payload: unknown, now: number): Promise<void> {
    return this.enqueueSync(id, kind, payload, now);
  }

  /** enqueue, for a caller inside a SQLite transaction (better-sqlite3 transactions are synchronous). */
  enqueueSync(id: string, kind: string, payload: unknown, now: number): void {
    this.insertStatement.run({ id, kind, payload: JSON.stringify(payload), now });
  }

  async find(id: string): Promise<JobRecord | undefined> {
    const row = this.byId.get(id);
    return row && jobFromRow(row);
  }

  /** Takes the oldest queued job of these kinds that is due, or undefined. */
  async claim(kinds: readonly string[], owner: string, now: number): Promise<JobRecord | undefined> {
    if (kinds.length === 0) return undefined;
    const row = this.prepared(jobSql.claim(kinds.length, '')).get({ owner, now, ...kindParams(kinds) }) as JobRow | undefined;
    return row && jobFromRow(row);
  }

  /** Queued and running jobs of a kind (for progress displays). */
  async active(kind: string): Promise<JobRecord[]> {
    return this.activeStatement.all(kind).map(jobFromRow);
  }

  /** The newest jobs of every kind, newest first (the admin API). */
  async list(limit: number): Promise<JobRecord[]> {
    return this.listStatement.all(limit).map(jobFromRow);
  }

  /** Queued and running jobs of every kind, oldest first. */
  async unfinished(): Promise<JobRecord[]> {
    return this.unfinishedStatement.all().map(jobFromRow);
  }

  async running(): Promise<JobRecord[]> {
    return this.runningStatement.all().map(jobFromRow);
  }

  async heartbeat(id: string, owner: string, now: number): Promise<void> {
    this.heartbeatStatement.run({ id, owner, now });
  }

  async progress(id: string, done: number, total: number, now: number): Promise<void> {
    this.progressStatement.run({ id, done, total, now });
  }

  async finish(id: string, state: 'done' | 'failed', error: string | null, now: number): Promise<void> {
    this.finishStatement.run({ id, state, error, now });
  }

  /** Puts a running job back in the queue, if `owner` still holds it. `countAttempt: false` for a
   *  job stopped by a shutdown, which was no fault of the job. */
  async requeue(id: string, owner: string | null, options: { runAfter: number; countAttempt: boolean; error?: string; now: number }): Promise<boolean> {
    return this.requeueStatement.run(requeueParams(id, owner, options)).changes > 0;
  }

  /** When the next queued job of these kinds is due (unix ms), if any is queued. */
  async nextDue(kinds: readonly string[]): Promise<number | undefined> {
    if (kinds.length === 0) return undefined;
    const row = this.prepared(jobSql.nextDue(kinds.length)).get(kindParams(kinds)) as { at: number | null } | undefined;
    return row?.at ?? undefined;
  }
}
