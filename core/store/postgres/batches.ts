import {
  batchFromRow,
  batchInsertParams,
  batchPages,
  batchSql,
  batchUpdate,
  lineCounts,
  lineFromRow,
  lineRows,
  type BatchApi,
  type BatchLineRecord,
  type BatchLineState,
  type BatchPatch,
  type BatchRecord,
  type BatchRow,
  type BatchStatus,
  type BatchStore,
  type LineCounts,
  type LineResult,
  type LineRow,
  type NewBatch,
  type NewBatchLine,
} from '../batches.js';
import { pageQuery, toPage, type PageOf, type PageRequest } from '../pagination.js';
import { atomically, execute, insertInChunks, query, type Executor } from './sql.js';

/** Most lines per INSERT: 5 parameters each, well under PostgreSQL's 65,535 a statement. */
const linesPerInsert = 1024;

/** Inserts `lines` on `client` (inside a transaction), many per statement. */
function insertLines(client: Executor, batchId: string, lines: readonly NewBatchLine[]): Promise<void> {
  return insertInChunks(client, batchSql.insertLines, lineRows(batchId, lines), linesPerInsert);
}

/** The batches and batch_lines tables on PostgreSQL: the same statements and rows as SQLite's
 *  repository; what SQLite does in one transaction runs in one here (the caller's, if any). */
export class PostgresBatchRepository implements BatchStore {
  constructor(private readonly executor: Executor) {}

  async create(batch: NewBatch, lines: readonly NewBatchLine[] = []): Promise<void> {
    await atomically(this.executor, async (client) => {
      await execute(client, batchSql.insert, batchInsertParams(batch));
      await insertLines(client, batch.id, lines);
    });
  }

  async find(id: string): Promise<BatchRecord | undefined> {
    const [row] = await query<BatchRow>(this.executor, batchSql.byId, [id]);
    return row && batchFromRow(row);
  }

  async active(): Promise<BatchRecord[]> {
    return (await query<BatchRow>(this.executor, batchSql.active)).map(batchFromRow);
  }

  async all(): Promise<BatchRecord[]> {
    return (await query<BatchRow>(this.executor, batchSql.all)).map(batchFromRow);
  }

  async list(api: BatchApi, page: PageRequest, keyId: string | null): Promise<PageOf<BatchRecord>> {
    const { sql, parameters } = pageQuery(batchPages, page, { api, keyId });
    const result = toPage(await query<BatchRow>(this.executor, sql, parameters), page);
    return { items: result.items.map(batchFromRow), hasMore: result.hasMore };
  }

  async update(id: string, patch: BatchPatch, now: number, lines: readonly NewBatchLine[] = [], onlyIf?: BatchStatus): Promise<boolean> {
    const { sql, parameters } = batchUpdate(id, patch, now, onlyIf);
    if (lines.length === 0) return (await execute(this.executor, sql, parameters)) > 0;
    return atomically(this.executor, async (client) => {
      const changed = (await execute(client, sql, parameters)) > 0;
      if (changed) await insertLines(client, id, lines);
      return changed;
    });
  }

  async insertLines(batchId: string, lines: readonly NewBatchLine[]): Promise<void> {
    if (lines.length === 0) return;
    await atomically(this.executor, (client) => insertLines(client, batchId, lines));
  }

  async deleteLines(batchId: string): Promise<void> {
    await execute(this.executor, batchSql.deleteLines, [batchId]);
  }

  async counts(batchId: string): Promise<LineCounts> {
    return lineCounts(await query<{ state: BatchLineState; n: number }>(this.executor, batchSql.counts, [batchId]));
  }

  async pending(batchId: string, afterLine: number, limit: number): Promise<BatchLineRecord[]> {
    return (await query<LineRow>(this.executor, batchSql.pending, [batchId, afterLine, limit])).map(lineFromRow);
  }

  async finishLine(batchId: string, line: number, result: LineResult): Promise<boolean> {
    return (await execute(this.executor, batchSql.finishLine, { batchId, line, ...result })) > 0;
  }

  async closePending(batchId: string, state: 'canceled' | 'expired', now: number, running: readonly number[] = []): Promise<number> {
    return execute(this.executor, batchSql.closePending(running.length), [state, now, batchId, now, ...running]);
  }

  /** FOR UPDATE SKIP LOCKED (PostgreSQL only): concurrent claimers on several nodes each lock
   *  different pending rows; a row another claimer holds is passed over, not waited for, and one
   *  it has just leased fails the lease test when re-read under the lock. */
  async claimLines(batchId: string, owner: string, limit: number, now: number, leaseMs: number): Promise<BatchLineRecord[]> {
    const rows = await query<LineRow>(this.executor, batchSql.claimLines('FOR UPDATE SKIP LOCKED'), { batchId, owner, limit, now, until: now + leaseMs });
    return rows.sort((a, b) => a.line - b.line).map(lineFromRow);
  }

  async renewLeases(batchId: string, owner: string, lines: readonly number[], until: number): Promise<number> {
    if (lines.length === 0) return 0;
    return execute(this.executor, batchSql.renewLeases(lines.length), [until, batchId, owner, ...lines]);
  }

  async releaseLines(batchId: string, owner: string, lines?: readonly number[]): Promise<number> {
    if (lines?.length === 0) return 0;
    return execute(this.executor, batchSql.releaseLines(lines?.length ?? null), [batchId, owner, ...(lines ?? [])]);
  }

  async leaseOwners(batchId: string, now: number): Promise<string[]> {
    return (await query<{ lease_owner: string }>(this.executor, batchSql.leaseOwners, [batchId, now])).map((row) => row.lease_owner);
  }

  async *lines(batchId: string, pageSize = 1000): AsyncGenerator<BatchLineRecord> {
    let after = 0;
    for (;;) {
      const rows = await query<LineRow>(this.executor, batchSql.linesAfter, [batchId, after, pageSize]);
      for (const row of rows) yield lineFromRow(row);
      if (rows.length < pageSize) return;
      after = rows.at(-1)!.line;
    }
  }

  async allLines(batchId: string): Promise<BatchLineRecord[]> {
    return (await query<LineRow>(this.executor, batchSql.allLines, [batchId])).map(lineFromRow);
  }

  async delete(id: string): Promise<boolean> {
    return (await execute(this.executor, batchSql.delete, [id])) > 0;
  }

  async statusCounts(): Promise<{ status: BatchStatus; n: number }[]> {
    return query<{ status: BatchStatus; n: number }>(this.executor, batchSql.statusCounts);
  }

  async queueDepth(): Promise<number> {
    const [row] = await query<{ n: number }>(this.executor, batchSql.queueDepth);
    return row!.n;
  }
}

