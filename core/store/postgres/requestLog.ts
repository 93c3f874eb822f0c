import {
  fromRow,
  queriedFromRow,
  requestLogInsertParams,
  requestLogQueryParams,
  requestLogSql,
  type RequestLogEntry,
  type RequestLogQuery,
  type RequestLogRow,
  type RequestLogStore,
} from '../requestLog.js';
import { execute, insertInChunks, query, type Executor } from './sql.js';

/** The request log on PostgreSQL: the same statements and rows as SQLite's repository. */
export class PostgresRequestLogRepository implements RequestLogStore {
  constructor(private readonly db: Executor) {}

  async query(filter: RequestLogQuery): Promise<(RequestLogEntry & { seq: number })[]> {
    return (await query<RequestLogRow & { seq: number }>(this.db, requestLogSql.query, requestLogQueryParams(filter))).map(queriedFromRow);
  }

  async insert(entry: RequestLogEntry): Promise<void> {
    await execute(this.db, requestLogSql.insert, requestLogInsertParams(entry));
  }

  /** Several entries in few statements (the ledger's groups): one round trip per chunk. */
  async insertAll(entries: readonly RequestLogEntry[]): Promise<void> {
    await insertInChunks(this.db, requestLogSql.insertMany, entries.map(requestLogInsertParams), 256);
  }

  async recent(limit = 100): Promise<RequestLogEntry[]> {
    return (await query<RequestLogRow>(this.db, requestLogSql.recent, [limit])).map(fromRow);
  }
}
