import type { Db } from './database.js';

/** OpenAI's cursor pagination: `limit`, `order` by creation, and `after` / `before` an object id. */
export interface PageRequest {
  limit: number;
  order: 'asc' | 'desc';
  after?: string;
  before?: string;
}

export interface PageOf<T> {
  items: T[];
  hasMore: boolean;
}

export interface PagedTable {
  table: string;
  /** The column a cursor names (the object's id in the API). */
  idColumn: string;
  columns: string;
  /** A WHERE fragment with named parameters that limits the listing (e.g. to one vector store). */
  scope: string;
}

/** Pages through a table in insertion order (rowid): created_at has one-second ties, rowid none. */
export class Paginator<Row> {
  private readonly statements = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly db: Db,
    private readonly spec: PagedTable,
  ) {}

  page(request: PageRequest, params: Record<string, unknown> = {}): PageOf<Row> {
    const backwards = request.before !== undefined && request.after === undefined;
    const descending = (request.order === 'desc') !== backwards;
    const cursor = backwards ? request.before : request.after;
    const key = `${descending}:${cursor !== undefined}`;
    let statement = this.statements.get(key);
    if (!statement) {
      const { table, idColumn, columns, scope } = this.spec;
      const cursorClause = cursor === undefined ? '' : `AND rowid ${descending ? '<' : '>'} (SELECT rowid FROM ${table} WHERE ${scope} AND ${idColumn} = @cursor)`;
      statement = this.db.prepare(`SELECT ${columns} FROM ${table} WHERE ${scope} ${cursorClause} ORDER BY rowid ${descending ? 'DESC' : 'ASC'} LIMIT @limit`);
      this.statements.set(key, statement);
    }
    const rows = statement.all({ ...params, ...(cursor === undefined ? {} : { cursor }), limit: request.limit + 1 }) as Row[];
    const hasMore = rows.length > request.limit;
    const items = rows.slice(0, request.limit);
    return { items: backwards ? items.reverse() : items, hasMore };
  }
}
