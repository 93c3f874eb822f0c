import { jobFromRow, jobSql, kindParams, requeueParams, type JobRecord, type JobRow, type JobStore } from '../jobs.js';
import { execute, query, type Executor } from './sql.js';

/** The jobs table on PostgreSQL: the same statements and rows as SQLite's repository, but for
 *  claim, which skips the rows other nodes are claiming (jobSql.claim). */
export class PostgresJobRepository implements JobStore {
  constructor(private readonly executor: Executor) {}

  async enqueue(id: string, kind: string, payload: unknown, now: number): Promise<void> {
    await execute(this.executor, jobSql.insert, { id, kind, payload: JSON.stringify(payload), now });
  }

  async find(id: string): Promise<JobRecord | undefined> {
    const [row] = await query<JobRow>(this.executor, jobSql.byId, [id]);
    return row && jobFromRow(row);
  }

  async claim(kinds: readonly string[], owner: string, now: number): Promise<JobRecord | undefined> {
    if (kinds.length === 0) return undefined;
    const [row] = await query<JobRow>(this.executor, jobSql.claim(kinds.length, 'FOR UPDATE SKIP LOCKED'), { owner, now, ...kindParams(kinds) });
    return row && jobFromRow(row);
  }

  async active(kind: string): Promise<JobRecord[]> {
    return (await query<JobRow>(this.executor, jobSql.active, [kind])).map(jobFromRow);
  }

  async list(limit: number): Promise<JobRecord[]> {
    return (await query<JobRow>(this.executor, jobSql.list, [limit])).map(jobFromRow);
  }

  async unfinished(): Promise<JobRecord[]> {
    return (await query<JobRow>(this.executor, jobSql.unfinished)).map(jobFromRow);
  }

  async running(): Promise<JobRecord[]> {
    return (await query<JobRow>(this.executor, jobSql.running)).map(jobFromRow);
  }

  async heartbeat(id: string, owner: string, now: number): Promise<void> {
    await execute(this.executor, jobSql.heartbeat, { id, owner, now });
  }

  async progress(id: string, done: number, total: number, now: number): Promise<void> {
    await execute(this.executor, jobSql.progress, { id, done, total, now });
  }

  async finish(id: string, state: 'done' | 'failed', error: string | null, now: number): Promise<void> {
    await execute(this.executor, jobSql.finish, { id, state, error, now });
  }

  async requeue(id: string, owner: string | null, options: { runAfter: number; countAttempt: boolean; error?: string; now: number }): Promise<boolean> {
    return (await execute(this.executor, jobSql.requeue, requeueParams(id, owner, options))) > 0;
  }

  async nextDue(kinds: readonly string[]): Promise<number | undefined> {
    if (kinds.length === 0) return undefined;
    const [row] = await query<{ at: number | null }>(this.executor, jobSql.nextDue(kinds.length), kindParams(kinds));
    return row?.at ?? undefined;
  }
}
