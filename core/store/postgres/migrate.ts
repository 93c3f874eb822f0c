// PostgreSQL's schema comes from the same migrations as SQLite's (core/store/migrations.ts): one
// definition, each migration's text run on PostgreSQL with SQLite's spellings translated (below).
// Several nodes may start at once against one database; an advisory lock makes one of them
// migrate while the others wait, then find nothing left to do.
import type pg from 'pg';
import { migrations } from '../migrations.js';

/** The one row of this table is the schema version (SQLite keeps it in `user_version`). */
const versionTable = 'llmsvc_schema_version';

/** The version of the PostgreSQL-only steps below, counted apart from the shared migrations' (a
 *  new shared migration and a new PostgreSQL-only step then never compete for a number). */
const postgresOnlyVersionTable = 'llmsvc_postgres_schema_version';

/** Tables only PostgreSQL has: what several nodes share and a single SQLite node has no use for.
 *  Written for PostgreSQL directly (no translation, no rowid: nothing pages through them). */
export const postgresOnlyMigrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'vector index log',
    sql: `
      -- Each vector store's index writes, in order (core/store/postgres/vectorIndex.ts): every node
      -- replays them into its own SQLite copy of the index. A writer bumps last_seq, whose row lock
      -- orders the writers of one store, so seq order is commit order.
      CREATE TABLE vector_index_heads (
        store_id TEXT PRIMARY KEY,
        incarnation TEXT NOT NULL,           -- new at each create: a copy of an earlier store of this id starts over
        options TEXT NOT NULL,               -- JSON IndexOptions, fixed at create
        last_seq BIGINT NOT NULL
      );
      CREATE TABLE vector_index_log (
        store_id TEXT NOT NULL REFERENCES vector_index_heads (store_id) ON DELETE CASCADE,
        seq BIGINT NOT NULL,
        op TEXT NOT NULL CHECK (op IN ('create', 'put', 'remove', 'attributes')),
        file_id TEXT,
        details TEXT,                        -- JSON: create's options, put's and attributes' attributes
        chunks BYTEA,                        -- put's chunks (vectorIndexLog.ts encodes them)
        PRIMARY KEY (store_id, seq)
      );
      -- Whether a file is in a store (its last put or remove), asked by setAttributes.
      CREATE INDEX vector_index_log_file ON vector_index_log (store_id, file_id, seq);
    `,
  },
];

/** What the PostgreSQL-only steps create, for the schema test, which compares the rest with SQLite's. */
export const postgresOnlyTables: readonly string[] = [postgresOnlyVersionTable, 'vector_index_heads', 'vector_index_log'];
export const postgresOnlyIndexes: readonly string[] = ['vector_index_log_file'];

/** pg_advisory_lock key held while migrating: any constant of llmsvc's own ("llmsvc" in ASCII). */
const migrationLockKey = 0x6c6c6d737663;

/** SQLite's spellings in the migrations and PostgreSQL's for the same meaning. The migrations use
 *  only these SQLite-specific forms; a new one needs a rule here (the schema test compares the
 *  two engines' tables column by column). */
const translations: readonly [RegExp, string][] = [
  // SQLite's INTEGER holds 64 bits (unix ms timestamps, token counts); PostgreSQL's holds 32.
  [/\bINTEGER\b/g, 'BIGINT'],
  // SQLite's REAL is an 8-byte float; PostgreSQL's REAL is 4 bytes.
  [/\bREAL\b/g, 'DOUBLE PRECISION'],
  [/\bBLOB\b/g, 'BYTEA'],
  // Every SQLite table has a rowid: insertion order, which listings page by (created_at has
  // one-second ties) and one migration copies by. PostgreSQL's tables get it as a column.
  [/\bCREATE TABLE (\w+) \(/g, 'CREATE TABLE $1 (\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,'],
];

/** A migration's SQLite text as PostgreSQL runs it. */
export function postgresSql(sqliteSql: string): string {
  return translations.reduce((sql, [pattern, replacement]) => sql.replace(pattern, replacement), sqliteSql);
}

/** The database's schema version: 0 before the first migration. */
export async function postgresSchemaVersion(client: pg.ClientBase): Promise<number> {
  return versionIn(client, versionTable);
}

/** The version of the PostgreSQL-only steps: 0 before the first. */
export async function postgresOnlySchemaVersion(client: pg.ClientBase): Promise<number> {
  return versionIn(client, postgresOnlyVersionTable);
}

async function versionIn(client: pg.ClientBase, table: string): Promise<number> {
  const exists = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [table]);
  if (!exists.rows[0]!.exists) return 0;
  const row = await client.query<{ version: string }>(`SELECT version FROM ${table}`);
  return row.rows.length === 0 ? 0 : Number(row.rows[0]!.version);
}

type Migration = (typeof migrations)[number];

/** Runs the migrations past `current` from `list`, each in its own transaction with its version. */
async function runMigrations(client: pg.ClientBase, table: string, list: readonly Migration[], current: number, toSql: (sql: string) => string, what: string): Promise<void> {
  const latest = list.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`The database schema (${what}version ${current}) is newer than this llmsvc (version ${latest}); upgrade llmsvc.`);
  }
  for (const migration of list.filter((m) => m.version > current)) {
    await client.query('BEGIN');
    try {
      await client.query(toSql(migration.sql));
      await client.query(`DELETE FROM ${table}`);
      await client.query(`INSERT INTO ${table} (version) VALUES ($1)`, [migration.version]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new Error(`PostgreSQL ${what}migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`);
    }
  }
}

/** Brings the database's schema up to date, each migration in its own transaction; returns the
 *  version it is at. Refuses a schema newer than this llmsvc knows, as SQLite's migrate does. */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ${versionTable} (version BIGINT NOT NULL)`);
      await runMigrations(client, versionTable, migrations, await postgresSchemaVersion(client), postgresSql, '');
      await client.query(`CREATE TABLE IF NOT EXISTS ${postgresOnlyVersionTable} (version BIGINT NOT NULL)`);
      await runMigrations(client, postgresOnlyVersionTable, postgresOnlyMigrations, await postgresOnlySchemaVersion(client), (sql) => sql, 'PostgreSQL-only ');
      return migrations.at(-1)?.version ?? 0;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]);
    }
  } finally {
    client.release();
  }
}
