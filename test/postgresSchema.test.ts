// PostgreSQL's schema from the migrations SQLite runs (core/store/postgres/migrate.ts), on a real
// PostgreSQL server started by the test: the same tables, columns, keys and indexes as SQLite's,
// types that hold the same values, and one migration when several nodes start at once.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrations } from '../core/store/migrations.js';
import { migratePostgres, postgresOnlyIndexes, postgresOnlyMigrations, postgresOnlySchemaVersion, postgresOnlyTables, postgresSchemaVersion } from '../core/store/postgres/migrate.js';
import { openDatabase, type Db } from '../core/store/index.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';
import { tempDir } from './support/server.js';

const latest = migrations.at(-1)!.version;
/** Left out of the comparison with SQLite: the tables and indexes of the PostgreSQL-only steps (what
 *  several nodes share, e.g. the vector index log, which a single SQLite node has no use for). The
 *  first test checks that they exist. */
const notInSqlite = (name: string) => postgresOnlyTables.includes(name) || postgresOnlyIndexes.includes(name);
/** The PostgreSQL type each SQLite column type is created as. */
const postgresTypeOf: Record<string, string> = { INTEGER: 'bigint', REAL: 'double precision', TEXT: 'text', BLOB: 'bytea' };

interface Column {
  name: string;
  type: string;
  notNull: boolean;
}
interface TableShape {
  columns: Column[];
  primaryKey: string[];
  foreignKeys: string[];
  /** UNIQUE constraints, as their column lists. */
  unique: string[];
}

function sqliteShapes(db: Db): Map<string, TableShape> {
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[];
  return new Map(
    tables.map(({ name }) => {
      const info = db.prepare(`PRAGMA table_info(${name})`).all() as { name: string; type: string; notnull: number; pk: number }[];
      const keys = db.prepare(`PRAGMA foreign_key_list(${name})`).all() as { table: string; from: string; to: string; on_delete: string }[];
      const uniqueIndexes = (db.prepare(`PRAGMA index_list(${name})`).all() as { name: string; origin: string }[]).filter((index) => index.origin === 'u');
      return [
        name,
        {
          columns: info.map((column) => ({ name: column.name, type: postgresTypeOf[column.type] ?? `unmapped ${column.type}`, notNull: column.notnull === 1 || column.pk > 0 })),
          primaryKey: info.filter((column) => column.pk > 0).sort((a, b) => a.pk - b.pk).map((column) => column.name),
          foreignKeys: keys.map((key) => `${key.from} -> ${key.table}(${key.to}) on delete ${key.on_delete.toLowerCase()}`).sort(),
          unique: uniqueIndexes.map((index) => (db.prepare(`PRAGMA index_info(${index.name})`).all() as { name: string }[]).map((column) => column.name).join(', ')).sort(),
        },
      ];
    }),
  );
}

async function postgresShapes(client: pg.ClientBase): Promise<Map<string, TableShape>> {
  const columns = await client.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = 'public' AND table_name <> 'llmsvc_schema_version' AND column_name <> 'rowid' ORDER BY table_name, ordinal_position`,
  );
  const primaryKeys = await client.query<{ table_name: string; column_name: string }>(
    `SELECT t.relname AS table_name, a.attname AS column_name FROM pg_index i
     JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) ON true
     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
     WHERE i.indisprimary AND n.nspname = 'public' ORDER BY t.relname, k.position`,
  );
  const constraints = await client.query<{ table_name: string; type: 'f' | 'u'; definition: string }>(
    `SELECT conrelid::regclass::text AS table_name, contype AS type, pg_get_constraintdef(oid) AS definition FROM pg_constraint
     WHERE contype IN ('f', 'u') AND connamespace = 'public'::regnamespace`,
  );
  const shapes = new Map<string, TableShape>();
  for (const row of columns.rows) {
    if (notInSqlite(row.table_name)) continue;
    const shape = shapes.get(row.table_name) ?? { columns: [], primaryKey: [], foreignKeys: [], unique: [] };
    shape.columns.push({ name: row.column_name, type: row.data_type, notNull: row.is_nullable === 'NO' });
    shapes.set(row.table_name, shape);
  }
  for (const row of primaryKeys.rows) if (!notInSqlite(row.table_name)) shapes.get(row.table_name)!.primaryKey.push(row.column_name);
  for (const row of constraints.rows) {
    if (notInSqlite(row.table_name)) continue;
    const shape = shapes.get(row.table_name)!;
    if (row.type === 'u') {
      // SQLite's rowid is implicit; PostgreSQL's is a UNIQUE identity column (checked below).
      const columns = /^UNIQUE \((.+)\)$/.exec(row.definition)![1]!;
      if (columns !== 'rowid') shape.unique.push(columns);
      continue;
    }
    // "FOREIGN KEY (job_id) REFERENCES jobs(id) ON DELETE CASCADE" in SQLite's pragma's terms.
    const match = /^FOREIGN KEY \((\w+)\) REFERENCES (\w+)\((\w+)\)(?: ON DELETE (.+))?$/.exec(row.definition)!;
    shape.foreignKeys.push(`${match[1]} -> ${match[2]}(${match[3]}) on delete ${(match[4] ?? 'no action').toLowerCase()}`);
  }
  for (const shape of shapes.values()) {
    shape.foreignKeys.sort();
    shape.unique.sort();
  }
  return new Map([...shapes].sort(([a], [b]) => a.localeCompare(b)));
}

let server: PostgresServer | undefined;
let databases = 0;
const pools: pg.Pool[] = [];

/** A pool on `url`, ended after the tests. pool.end() does not wait for its sockets to close, so an
 *  idle client can still see the server's shutdown: that error is expected, not the test's. */
function testPool(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  pools.push(pool);
  return pool;
}

/** A pool on a new, empty database. */
async function freshDatabase(): Promise<pg.Pool> {
  return testPool(await createDatabase(server!.url, `llmsvc_schema_${process.pid}_${++databases}`));
}

describe('PostgreSQL schema from the SQLite migrations', () => {
  before(async () => {
    server = await testPostgres();
  });
  after(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await server?.stop();
  });

  test('every table, column, primary key, foreign key and index is the same as in SQLite', async () => {
    const pool = await freshDatabase();
    assert.equal(await migratePostgres(pool), latest);
    const db = openDatabase(path.join(tempDir(), 'llmsvc.sqlite'));
    try {
      const client = await pool.connect();
      try {
        assert.equal(await postgresSchemaVersion(client), latest);
        const expected = sqliteShapes(db);
        assert.ok(expected.size >= 10, `tables compared: ${[...expected.keys()].join(', ')}`);
        assert.deepEqual(await postgresShapes(client), expected);
        const sqliteIndexes = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name`).all() as { name: string }[]).map((row) => row.name);
        const postgresIndexes = (
          await client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
           AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u')) ORDER BY indexname`)
        ).rows.map((row) => row.indexname);
        assert.deepEqual(postgresIndexes.filter((name) => !notInSqlite(name)), sqliteIndexes);
        assert.deepEqual(postgresIndexes.filter(notInSqlite), [...postgresOnlyIndexes]);
        const present = await client.query<{ name: string }>('SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NULL', [postgresOnlyTables]);
        assert.deepEqual(present.rows, [], 'every PostgreSQL-only table exists');
        assert.equal(await postgresOnlySchemaVersion(client), postgresOnlyMigrations.at(-1)!.version);
        assert.ok(sqliteIndexes.length >= 7, `indexes compared: ${sqliteIndexes.join(', ')}`);
      } finally {
        client.release();
      }
    } finally {
      db.close();
    }
  });

  test('every table has a rowid in insertion order, as in SQLite, also the one a migration copied', async () => {
    const pool = await freshDatabase();
    await migratePostgres(pool);
    const withRowid = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'rowid' AND is_identity = 'YES' ORDER BY table_name`,
    );
    const tables = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'llmsvc_schema_version' ORDER BY table_name`,
    );
    assert.deepEqual(withRowid.rows, tables.rows.filter((row) => !notInSqlite(row.table_name)));
    for (const id of ['c', 'a', 'b']) {
      await pool.query(`INSERT INTO request_log (id, created_at, route, method, status, latency_ms) VALUES ($1, 1, '/v1/models', 'GET', 200, 1)`, [id]);
    }
    const inOrder = await pool.query<{ id: string }>('SELECT id FROM request_log ORDER BY rowid');
    assert.deepEqual(inOrder.rows.map((row) => row.id), ['c', 'a', 'b']);
  });

  test('the columns hold what SQLite holds: unix ms past 2^31, 8-byte floats, bytes; CHECK constraints hold', async () => {
    const pool = await freshDatabase();
    await migratePostgres(pool);
    const createdAt = Date.UTC(2040, 0, 1); // > 2^31, as every unix-ms column
    await pool.query(`INSERT INTO request_log (id, created_at, route, method, status, latency_ms) VALUES ('r1', $1, '/v1/chat/completions', 'POST', 200, $2)`, [createdAt, 0.1 + 0.2]);
    const row = await pool.query<{ created_at: string; latency_ms: number }>(`SELECT created_at, latency_ms FROM request_log WHERE id = 'r1'`);
    assert.equal(Number(row.rows[0]!.created_at), createdAt);
    assert.equal(row.rows[0]!.latency_ms, 0.1 + 0.2);
    const bytes = Buffer.from([0, 1, 2, 254, 255]);
    await pool.query(`INSERT INTO files (id, filename, purpose, bytes, created_at, sha256, content) VALUES ('file-1', 'a.bin', 'batch', 5, 1, 'x', $1)`, [bytes]);
    const file = await pool.query<{ content: Buffer }>(`SELECT content FROM files WHERE id = 'file-1'`);
    assert.deepEqual(file.rows[0]!.content, bytes);
    await assert.rejects(
      pool.query(
        `INSERT INTO batches (id, api, status, endpoint, completion_window, created_at, expires_at, updated_at) VALUES ('b1', 'openai', 'bogus', '/v1/chat/completions', '24h', 1, 2, 3)`,
      ),
      /violates check constraint/,
    );
  });

  test('three nodes starting at once migrate once; a rerun does nothing; a newer schema is refused', async () => {
    const first = await freshDatabase();
    const url = (first.options as { connectionString: string }).connectionString;
    const nodes = [first, testPool(url), testPool(url)];
    assert.deepEqual(await Promise.all(nodes.map((pool) => migratePostgres(pool))), [latest, latest, latest]);
    const versions = await first.query<{ version: string }>('SELECT version FROM llmsvc_schema_version');
    assert.deepEqual(versions.rows.map((row) => Number(row.version)), [latest]);
    assert.equal(await migratePostgres(first), latest);
    await first.query('UPDATE llmsvc_schema_version SET version = $1', [latest + 1]);
    await assert.rejects(migratePostgres(nodes[1]!), new RegExp(`schema \\(version ${latest + 1}\\) is newer than this llmsvc \\(version ${latest}\\); upgrade llmsvc`));
  });
});
