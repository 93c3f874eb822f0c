// The request ledger on PostgreSQL: the same group commit as on SQLite (test/ledger.test.ts), with
// commits that are asynchronous: flush() waits for the ones under way, close() writes the last.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import type { LedgerEntry } from '../core/store/index.js';
import { PostgresStore } from '../core/store/postgres/store.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';
import { tempDir } from './support/server.js';

let server: PostgresServer;
let databases = 0;
const stores: PostgresStore[] = [];

before(async () => {
  server = await testPostgres();
});
after(async () => {
  for (const store of stores) await store.close();
  await server.stop();
});

async function openStore(options: Parameters<typeof PostgresStore.open>[2] = {}): Promise<{ store: PostgresStore; url: string }> {
  const url = await createDatabase(server.url, `llmsvc_ledger_${process.pid}_${databases++}`);
  const store = await PostgresStore.open(url, tempDir(), options);
  stores.push(store);
  return { store, url };
}

function finished(id: string, keyId: string, model: string, tokens: [number, number], error = false, touchAt?: number): LedgerEntry {
  return {
    log: { id, createdAt: Date.now(), route: '/v1/chat/completions', method: 'POST', model, status: error ? 500 : 200, promptTokens: tokens[0], completionTokens: tokens[1], latencyMs: 1, ttftMs: null, stream: false, errorCode: null, promptText: null, keyId },
    usage: { keyId, model, day: '2026-12-06', promptTokens: tokens[0], completionTokens: tokens[1], error },
    touchAt,
  };
}

async function logCount(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM request_log')).rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('the request ledger on PostgreSQL', () => {
  test("a group's usage is summed per key × model × day, its log rows written, the key's last use kept", async () => {
    const { store, url } = await openStore();
    await store.apiKeys.save({ id: 'key_a', name: 'a', prefix: 'sk-a', secretHash: 'hash-a', scope: 'user', models: ['*'], rpm: null, tpm: null, maxConcurrent: null, dailyTokens: null, monthlyTokens: null, expiresAt: null, createdAt: 1, lastUsedAt: null, disabled: false, revokedAt: null, cache: false });
    store.ledger.record(finished('r1', 'key_a', 'm', [10, 5], false, 5_000));
    store.ledger.record(finished('r2', 'key_a', 'm', [7, 3], true, 6_000));
    store.ledger.record(finished('r3', 'key_a', 'other', [1, 1]));
    await store.ledger.flush();
    assert.equal(await logCount(url), 3);
    const rows = await store.usage.range('key_a', '2026-12-06', '2026-12-06');
    assert.deepEqual(rows.find((row) => row.model === 'm'), { keyId: 'key_a', model: 'm', day: '2026-12-06', requests: 2, promptTokens: 17, completionTokens: 8, errors: 1 });
    assert.equal((await store.apiKeys.find('key_a'))?.lastUsedAt, 6_000);
    assert.equal(await store.usage.tokensBetween('key_a', '2026-12-06', '2026-12-06'), 27);
  });

  test('flush() also waits for the commits already under way', async () => {
    const { store, url } = await openStore();
    for (let index = 0; index < 300; index++) store.ledger.record(finished(`r${index}`, 'k1', 'm', [1, 1])); // 256 start a commit at once
    await store.ledger.flush();
    assert.equal(await logCount(url), 300);
    assert.equal(await store.usage.tokensBetween('k1', '2026-12-06', '2026-12-06'), 600);
  });

  test('a group that cannot be written is reported with how many requests it held, leaves nothing half-written, and the next is written', async () => {
    const reports: { error: unknown; lost: number }[] = [];
    const { store, url } = await openStore({ onLedgerError: (error, lost) => reports.push({ error, lost }) });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.model = 'refused' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
    await client.query('CREATE TRIGGER refuse BEFORE INSERT ON request_log FOR EACH ROW EXECUTE FUNCTION refuse()');
    await client.end();
    store.ledger.record(finished('r1', 'k1', 'm', [1, 1]));
    store.ledger.record(finished('r2', 'k1', 'refused', [1, 1]));
    await store.ledger.flush();
    assert.equal(reports.length, 1);
    assert.equal(reports[0]!.lost, 2);
    assert.match(String(reports[0]!.error), /disk full/);
    assert.equal(await logCount(url), 0);
    assert.equal(await store.usage.tokensBetween('k1', '2026-12-06', '2026-12-06'), 0, 'no usage of the failed group');
    store.ledger.record(finished('r3', 'k1', 'm', [1, 1]));
    await store.ledger.flush();
    assert.equal(await logCount(url), 1);
  });

  test('close() writes what was recorded last', async () => {
    const { store, url } = await openStore();
    store.ledger.record(finished('r1', 'k1', 'm', [2, 2]));
    await store.close();
    assert.equal(await logCount(url), 1);
  });
});
