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

interface JobRow {
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

function fromRow(row: JobRow): JobRecord {
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
  private readonly claimStatement;
  private readonly runningStatement;
  private readonly heartbeatStatement;
  private readonly progressStatement;
  private readonly finishStatement;
  private readonly requeueStatement;
  private readonly nextRunStatement;
  private readonly activeStatement;
  private readonly listStatement;
  private readonly unfinishedStatement;

  constructor(db: Db) {
    this.insertStatement = db.prepare(`
      INSERT INTO jobs (id, kind, payload, state, created_at, updated_at) VALUES (@id, @kind, @payload, 'queued', @now, @now)`);
    this.byId = db.prepare<[string], JobRow>('SELECT * FROM jobs WHERE id = ?');
    this.claimStatement = db.prepare<{ owner: string; now: number; kinds: string }, JobRow>(`
      UPDATE jobs SET state = 'running', owner = @owner, heartbeat_at = @now, attempts = attempts + 1, updated_at = @now
      WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND run_after <= @now AND kind IN (SELECT value FROM json_each(@kinds))
        ORDER BY created_at, rowid LIMIT 1)
      RETURNING *`);
    this.runningStatement = db.prepare<[], JobRow>("SELECT * FROM jobs WHERE state = 'running'");
    this.heartbeatStatement = db.prepare<{ id: string; owner: string; now: number }>(
      "UPDATE jobs SET heartbeat_at = @now WHERE id = @id AND owner = @owner AND state = 'running'",
    );
    this.progressStatement = db.prepare<{ id: string; done: number; total: number; now: number }>(
      'UPDATE jobs SET progress_done = @done, progress_total = @total, heartbeat_at = @now, updated_at = @now WHERE id = @id',
    );
    this.finishStatement = db.prepare<{ id: string; state: JobState; error: string | null; now: number }>(
      'UPDATE jobs SET state = @state, error = @error, owner = NULL, updated_at = @now WHERE id = @id',
    );
    this.requeueStatement = db.prepare<{ id: string; owner: string | null; runAfter: number; attemptsBack: number; error: string | null; now: number }>(`
      UPDATE jobs SET state = 'queued', owner = NULL, run_after = @runAfter, attempts = attempts - @attemptsBack, error = @error, updated_at = @now
      WHERE id = @id AND state = 'running' AND owner IS @owner`);
    this.activeStatement = db.prepare<[string], JobRow>("SELECT * FROM jobs WHERE kind = ? AND state IN ('queued', 'running') ORDER BY created_at, rowid");
    this.listStatement = db.prepare<[number], JobRow>('SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?');
    this.unfinishedStatement = db.prepare<[], JobRow>("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, rowid");
    this.nextRunStatement = db.prepare<[string], { at: number | null }>(
      "SELECT MIN(run_after) AS at FROM jobs WHERE state = 'queued' AND kind IN (SELECT value FROM json_each(?))",
    );
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
    return row && fromRow(row);
  }

  /** Takes the oldest queued job of these kinds that is due, or undefined. */
  async claim(kinds: readonly string[], owner: string, now: number): Promise<JobRecord | undefined> {
    const row = this.claimStatement.get({ owner, now, kinds: JSON.stringify(kinds) });
    return row && fromRow(row);
  }

  /** Queued and running jobs of a kind (for progress displays). */
  async active(kind: string): Promise<JobRecord[]> {
    return this.activeStatement.all(kind).map(fromRow);
  }

  /** The newest jobs of every kind, newest first (the admin API). */
  async list(limit: number): Promise<JobRecord[]> {
    return this.listStatement.all(limit).map(fromRow);
  }

  /** Queued and running jobs of every kind, oldest first. */
  async unfinished(): Promise<JobRecord[]> {
    return this.unfinishedStatement.all().map(fromRow);
  }

  async running(): Promise<JobRecord[]> {
    return this.runningStatement.all().map(fromRow);
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
    return (
      this.requeueStatement.run({
        id,
        owner,
        runAfter: options.runAfter,
        attemptsBack: options.countAttempt ? 0 : 1,
        error: options.error ?? null,
        now: options.now,
      }).changes > 0
    );
  }

  /** When the next queued job of these kinds is due (unix ms), if any is queued. */
  async nextDue(kinds: readonly string[]): Promise<number | undefined> {
    return this.nextRunStatement.get(JSON.stringify(kinds))?.at ?? undefined;
  }
}
