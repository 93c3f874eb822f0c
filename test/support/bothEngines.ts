// For the contract tests that run one store interface on SQLite and on PostgreSQL and require the
// same results: a fresh SQLite file and a fresh PostgreSQL database, side by side.
import assert from 'node:assert/strict';
import path from 'node:path';
import type pg from 'pg';
import { openDatabase, type Db } from '../../core/store/index.js';
import { openPostgresPool } from '../../core/store/postgres/pool.js';
import { createDatabase, testPostgres, type PostgresServer } from './postgres.js';
import { tempDir } from './server.js';

export interface BothEngines {
  sqlite: Db;
  pool: pg.Pool;
  /** The PostgreSQL database's URL (for a change feed or a second pool). */
  url: string;
  close(): Promise<void>;
}

/** A new SQLite file and a new PostgreSQL database named `databaseName` (on the server
 *  LLMSVC_TEST_DATABASE_URL names, else one the test starts), both migrated. */
export async function openBothEngines(databaseName: string): Promise<BothEngines> {
  const sqlite = openDatabase(path.join(tempDir(), 'llmsvc.sqlite'));
  const server: PostgresServer | undefined = await testPostgres();
  const url = await createDatabase(server.url, `${databaseName}_${process.pid}`);
  const pool = await openPostgresPool(url, () => undefined, 4);
  return {
    sqlite,
    pool,
    url,
    close: async () => {
      sqlite.close();
      await pool.end();
      await server.stop();
    },
  };
}

/** Runs `check` against the SQLite engine, then the PostgreSQL one, and requires equal results;
 *  returns SQLite's. */
export async function sameOnBothEngines<Engine, T>(engines: readonly [Engine, Engine], check: (engine: Engine) => Promise<T>): Promise<T> {
  const onSqlite = await check(engines[0]);
  const onPostgres = await check(engines[1]);
  assert.deepEqual(onPostgres, onSqlite, 'PostgreSQL gave what SQLite gave');
  return onSqlite;
}
