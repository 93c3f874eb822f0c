import fs from 'node:fs';
import path from 'node:path';
import { migrations } from './migrations.js';
import { Database } from './sqlite.js';

export type Db = Database;

/** Opens (creating if needed) a SQLite file in WAL mode, shared safely by several processes. */
export function openWalFile(file: string): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

/** Opens (creating if needed) the SQLite file in WAL mode and brings its schema up to date. */
export function openDatabase(file: string): Db {
  const db = openWalFile(file);
  // A checkpoint runs inside the commit that crosses the threshold, on the event loop, and
  // fsyncs the database file. Every API request commits (request log + usage), so at the default
  // of 1,000 pages one request in a few hundred stalled the loop for the copy and the fsync;
  // 10,000 pages (~40 MB of WAL) makes that ten times rarer. journal_size_limit truncates the WAL
  // back after a checkpoint, so it does not keep its largest size on disk.
  db.pragma('wal_autocheckpoint = 10000');
  db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`);
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

function migrate(db: Db): void {
  const current = schemaVersion(db);
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    throw new Error(`The database schema (version ${current}) is newer than this llmsvc (version ${latest}); upgrade llmsvc.`);
  }
  for (const migration of migrations.filter((m) => m.version > current)) {
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
}
