import pg from 'pg';
import { migratePostgres } from './migrate.js';

/** PostgreSQL's BIGINT (int8). pg hands it over as a string, since it can exceed 2^53; llmsvc's
 *  BIGINT columns hold unix ms, counts and token totals, all far below, and the repositories share
 *  their row mapping with SQLite, which hands over numbers. */
const int8 = 20;

function typeParser(oid: number, format?: 'text' | 'binary') {
  if (oid === int8 && format !== 'binary') return Number;
  return pg.types.getTypeParser(oid, format);
}

/** A connection pool on `url` whose schema is brought up to date first. `onIdleError` hears of an
 *  idle connection the server closed (a restart, a failover); the pool replaces it. */
export async function openPostgresPool(url: string, onIdleError: (error: Error) => void, max = 10): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max, types: { getTypeParser: typeParser } as pg.CustomTypesConfig });
  pool.on('error', onIdleError);
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}
