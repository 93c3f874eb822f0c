import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { KeyService } from '../core/auth/index.js';
import path from 'node:path';
import { Database } from '../core/store/sqlite.js';
import { openDatabase, schemaVersion, SqliteStore, type LedgerEntry } from '../core/store/index.js';
import { migrations } from '../core/store/migrations.js';
import { tempDir } from './support/server.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

function openStore(options: Parameters<typeof SqliteStore.open>[1] = {}): { store: SqliteStore; dataDir: string } {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const store = SqliteStore.open(dataDir, options);
  after(() => store.dispose());
  return { store, dataDir };
}

function finished(id: string, keyId: string, model: string, tokens: [number, number], error = false, touchAt?: number): LedgerEntry {
  return {
    log: {
      id,
      createdAt: Date.now(),
      route: '/v1/chat/completions',
      method: 'POST',
      model,
      status: error ? 500 : 200,
      promptTokens: tokens[0],
      completionTokens: tokens[1],
      latencyMs: 1,
      ttftMs: null,
      stream: false,
      errorCode: null,
      promptText: null,
      keyId,
    },
    usage: { keyId, model, day: '2026-11-26', promptTokens: tokens[0], completionTokens: tokens[1], error },
    touchAt,
  };
}

/** Longer than the ledger's 10 ms between commits. */
const commitWindowMs = 30;

const logCount = (store: SqliteStore) => store.db.prepare('SELECT COUNT(*) FROM request_log').pluck().get() as number;

describe('the request ledger (group commit)', () => {
  test('requests that end in one turn are committed together at its end (none in the last 10 ms), their usage summed per key × model × day', async () => {
    const { store } = openStore();
    const keys = new KeyService(store, () => 1_000);
    const a = (await keys.create({ name: 'a', scope: 'user', models: ['*'], cache: false })).key;
    const b = (await keys.create({ name: 'b', scope: 'user', models: ['*'], cache: false })).key;
    store.ledger.record(finished('r1', a.id, 'm', [10, 5], false, 5_000));
    store.ledger.record(finished('r2', a.id, 'm', [7, 3], true, 6_000));
    store.ledger.record(finished('r3', a.id, 'other', [1, 1]));
    store.ledger.record(finished('r4', b.id, 'm', [2, 2]));
    assert.equal(logCount(store), 0, 'nothing is written inside the turn');
    await nextTurn();
    assert.equal(logCount(store), 4);
    const rows = await store.usage.range(null, '2026-11-26', '2026-11-26');
    const row = (keyId: string, model: string) => rows.find((r) => r.keyId === keyId && r.model === model);
    assert.deepEqual(row(a.id, 'm'), { keyId: a.id, model: 'm', day: '2026-11-26', requests: 2, promptTokens: 17, completionTokens: 8, errors: 1 });
    assert.equal(row(a.id, 'other')?.requests, 1);
    assert.equal(row(b.id, 'm')?.promptTokens, 2);
    assert.equal(rows.length, 3);
    assert.equal((await store.apiKeys.find(a.id))?.lastUsedAt, 6_000, 'the latest use of the turn is the key’s last use');
    // Within 10 ms of that commit, the next one waits for the rest of the 10 ms, then adds to the same row.
    store.ledger.record(finished('r5', a.id, 'm', [1, 1]));
    await sleep(commitWindowMs);
    assert.equal((await store.usage.range(a.id, '2026-11-26', '2026-11-26')).find((r) => r.model === 'm')?.requests, 3);
  });

  test('flush() writes at once (quota checks and the admin usage route read after it), and dispose() writes the last turn', async () => {
    const { store, dataDir } = openStore();
    store.ledger.record(finished('r1', 'k1', 'm', [3, 4]));
    await store.ledger.flush();
    assert.equal(await store.usage.tokensBetween('k1', '2026-11-26', '2026-11-26'), 7);
    store.ledger.record(finished('r2', 'k1', 'm', [1, 0]));
    store.dispose();
    const reopened = SqliteStore.open(dataDir);
    after(() => reopened.dispose());
    assert.equal(logCount(reopened), 2);
    assert.equal(await reopened.usage.tokensBetween('k1', '2026-11-26', '2026-11-26'), 8);
  });

  test('a turn that cannot be written is reported, with how many requests it held, and the next turn is written', async () => {
    const reports: { error: unknown; lost: number }[] = [];
    const { store } = openStore({ onLedgerError: (error, lost) => reports.push({ error, lost }) });
    store.db.exec(`CREATE TRIGGER refuse BEFORE INSERT ON request_log WHEN NEW.model = 'refused' BEGIN SELECT RAISE(ABORT, 'disk full'); END`);
    store.ledger.record(finished('r1', 'k1', 'm', [1, 1]));
    store.ledger.record(finished('r2', 'k1', 'refused', [1, 1]));
    await nextTurn();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.lost, 2);
    assert.match(String(reports[0]!.error), /disk full/);
    assert.equal(logCount(store), 0, 'the failed turn left nothing half-written');
    store.ledger.record(finished('r3', 'k1', 'm', [1, 1]));
    await sleep(commitWindowMs);
    assert.equal(logCount(store), 1);
  });

  test('schema 5 keeps the request log of a version-4 database, in order, and lets a client reuse a request id', () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const file = path.join(dataDir, 'llmsvc.sqlite');
    const old = new Database(file);
    for (const migration of migrations.filter((m) => m.version <= 4)) old.exec(migration.sql);
    old.pragma('user_version = 4');
    const insert = old.prepare('INSERT INTO request_log (id, created_at, route, method, status, latency_ms, key_id) VALUES (?, ?, ?, ?, ?, ?, ?)');
    insert.run('req-b', 2_000, '/v1/models', 'GET', 200, 1.5, 'key_1');
    insert.run('req-a', 1_000, '/v1/chat/completions', 'POST', 429, 0.5, null);
    old.close();
    const db = openDatabase(file);
    after(() => db.close());
    assert.equal(schemaVersion(db), migrations.at(-1)!.version, 'migrated to the latest schema');
    const rows = db.prepare('SELECT id, created_at, route, status, key_id FROM request_log ORDER BY rowid').all();
    assert.deepEqual(rows, [
      { id: 'req-a', created_at: 1_000, route: '/v1/chat/completions', status: 429, key_id: null },
      { id: 'req-b', created_at: 2_000, route: '/v1/models', status: 200, key_id: 'key_1' },
    ]);
    db.prepare("INSERT INTO request_log (id, created_at, route, method, status, latency_ms) VALUES ('req-a', 3000, '/v1/models', 'GET', 200, 1)").run();
    assert.equal(db.prepare("SELECT COUNT(*) FROM request_log WHERE id = 'req-a'").pluck().get(), 2, 'a reused x-request-id is a second row, not a replacement');
  });
});
