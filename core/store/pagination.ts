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

/** A `before` cursor alone reads the other way (then the page is turned back). */
function readsBackwards(request: PageRequest): boolean {
  return request.before !== undefined && request.after === undefined;
}

/** The statement and parameters that read one page of `spec` (one row more than asked, to tell
 *  whether more follow): SQL both engines run (PostgreSQL's tables have rowid as a column). */
export function pageQuery(spec: PagedTable, request: PageRequest, params: Record<string, unknown>): { sql: string; parameters: Record<string, unknown> } {
  const backwards = readsBackwards(request);
  const descending = (request.order === 'desc') !== backwards;
  const cursor = backwards ? request.before : request.after;
  const { table, idColumn, columns, scope } = spec;
  const cursorClause = cursor === undefined ? '' : `AND rowid ${descending ? '<' : '>'} (SELECT rowid FROM ${table} WHERE ${scope} AND ${idColumn} = @cursor)`;
  return {
    sql: `SELECT ${columns} FROM ${table} WHERE ${scope} ${cursorClause} ORDER BY rowid ${descending ? 'DESC' : 'ASC'} LIMIT @limit`,
    parameters: { ...params, ...(cursor === undefined ? {} : { cursor }), limit: request.limit + 1 },
  };
}

/** The page that `rows` (read with pageQuery's statement) make. */
export function toPage<Row>(rows: Row[], request: PageRequest): PageOf<Row> {
  const items = rows.slice(0, request.limit);
  return { items: readsBackwards(request) ? items.reverse() : items, hasMore: rows.length > request.limit };
}

/** Pages through a table in insertion order (rowid): created_at has one-second ties, rowid none. */
export class Paginator<Row> {
  private readonly statements = new Map<string, ReturnType<Db['prepare']>>();

  constructor(
    private readonly db: Db,
    private readonly spec: PagedTable,
  ) {}

  page(request: PageRequest, params: Record<string, unknown> = {}): PageOf<Row> {
    const { sql, parameters } = pageQuery(this.spec, request, params);
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return toPage(statement.all(parameters) as Row[], request);
  }
}
