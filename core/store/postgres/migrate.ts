// PostgreSQL's schema comes from the same migrations as SQLite's (core/store/migrations.ts): one
// definition, each migration's text run on PostgreSQL with SQLite's spellings translated (below).
// Several nodes may start at once against one database; an advisory lock makes one of them
// migrate while the others wait, then find nothing left to do.
import type pg from 'pg';
import { migrations } from '../migrations.js';

/** The one row of this table is the schema version (SQLite keeps it in `user_version`). */
const versionTable = 'llmsvc_schema_version';

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
  const table = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [versionTable]);
  if (!table.rows[0]!.exists) return 0;
  const row = await client.query<{ version: string }>(`SELECT version FROM ${versionTable}`);
  return row.rows.length === 0 ? 0 : Number(row.rows[0]!.version);
}

/** Brings the database's schema up to date, each migration in its own transaction; returns the
 *  version it is at. Refuses a schema newer than this llmsvc knows, as SQLite's migrate does. */
export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [migrationLockKey]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS ${versionTable} (version BIGINT NOT NULL)`);
      const current = await postgresSchemaVersion(client);
      const latest = migrations.at(-1)?.version ?? 0;
      if (current > latest) {
        throw new Error(`The database schema (version ${current}) is newer than this llmsvc (version ${latest}); upgrade llmsvc.`);
      }
      for (const migration of migrations.filter((m) => m.version > current)) {
        await client.query('BEGIN');
        try {
          await client.query(postgresSql(migration.sql));
          await client.query(`DELETE FROM ${versionTable}`);
          await client.query(`INSERT INTO ${versionTable} (version) VALUES ($1)`, [migration.version]);
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw new Error(`PostgreSQL migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`);
        }
      }
      return latest;
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [migrationLockKey]);
    }
  } finally {
    client.release();
  }
}
