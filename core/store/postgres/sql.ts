// The repositories' SQL is written once, with better-sqlite3's parameters: `?` (in order) and
// `@name` (from an object). PostgreSQL numbers its parameters ($1, $2, …): this converts a
// statement once and remembers it. The statements hold no `?` or `@` inside string literals.
import pg from 'pg';

/** Where a repository runs its statements: the pool (each statement on its own, or in a transaction
 *  of its own), or one client inside a transaction that Store.transaction opened. */
export type Executor = pg.Pool | pg.PoolClient;

interface Converted {
  text: string;
  /** For `@name` statements, the object property behind each $n; empty for `?` statements. */
  names: string[];
}

const converted = new Map<string, Converted>();

function convert(sql: string): Converted {
  let result = converted.get(sql);
  if (result) return result;
  const names: string[] = [];
  let positionals = 0;
  const text = sql.replace(/\?|@([A-Za-z_][A-Za-z0-9_]*)/g, (match, name: string | undefined) => {
    if (name === undefined) return `$${++positionals}`;
    const index = names.indexOf(name);
    return `$${index >= 0 ? index + 1 : names.push(name)}`;
  });
  if (positionals > 0 && names.length > 0) throw new Error(`A statement mixes ? and @name parameters: ${sql}`);
  converted.set(sql, (result = { text, names }));
  return result;
}

type Parameters = readonly unknown[] | Readonly<Record<string, unknown>>;

async function run<Row extends pg.QueryResultRow>(client: pg.Pool | pg.ClientBase, sql: string, parameters: Parameters): Promise<pg.QueryResult<Row>> {
  const { text, names } = convert(sql);
  const values = Array.isArray(parameters) ? parameters : names.map((name) => (parameters as Record<string, unknown>)[name]);
  return client.query<Row>(text, values as unknown[]);
}

/** Runs `sql` (better-sqlite3's parameter style) on PostgreSQL with `parameters`: an array for `?`,
 *  an object for `@name`; its rows. */
export async function query<Row extends pg.QueryResultRow>(client: pg.Pool | pg.ClientBase, sql: string, parameters: Parameters = []): Promise<Row[]> {
  return (await run<Row>(client, sql, parameters)).rows;
}

/** Runs a statement that changes rows, as `query`; how many it changed (better-sqlite3's `changes`). */
export async function execute(client: pg.Pool | pg.ClientBase, sql: string, parameters: Parameters = []): Promise<number> {
  return (await run(client, sql, parameters)).rowCount ?? 0;
}

/** Runs `work` in one transaction on one connection of `pool` (`begin`: the statement that opens it). */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Runs `work` in a transaction: a new one on a pool, or the caller's when `executor` is a client
 *  already inside one (a repository method that needs several statements to be atomic then joins
 *  the store-wide transaction instead of opening a second connection). */
export async function atomically<T>(executor: Executor, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return executor instanceof pg.Pool ? inTransaction(executor, work) : work(executor);
}

/** SQLSTATEs of a transaction PostgreSQL aborted because another one ran alongside it. */
const retryableStates = new Set(['40001' /* serialization_failure */, '40P01' /* deadlock_detected */]);

/** Runs `work` in a SERIALIZABLE transaction, again from the start (up to `attempts` times) when
 *  PostgreSQL aborts it for a concurrent one. The result is as if every such transaction ran one
 *  after another, as SQLite runs them: a read-then-write (is this file attached yet? then attach
 *  it) needs no locks of its own. So `work` must have no effect outside the transaction. */
export async function serializably<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>, attempts = 20): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(pool, work, 'BEGIN ISOLATION LEVEL SERIALIZABLE');
    } catch (error) {
      if (attempt >= attempts || !retryableStates.has((error as { code?: string }).code ?? '')) throw error;
    }
    // A little jitter, so that the transactions that collided do not collide again.
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));
  }
}

/** Inserts `rows` (each row's parameters, in the order `statementFor` binds them) with statements
 *  of several rows each: `statementFor(n)` is the statement for n rows. Chunks are powers of two
 *  long, at most `maxRows`, so that few statement texts exist (each is converted once and kept). */
export async function insertInChunks(executor: Executor, statementFor: (rows: number) => string, rows: readonly (readonly unknown[])[], maxRows = 1024): Promise<void> {
  for (let start = 0; start < rows.length; ) {
    const size = Math.min(maxRows, 2 ** Math.floor(Math.log2(rows.length - start)));
    await execute(executor, statementFor(size), rows.slice(start, start + size).flat());
    start += size;
  }
}
