// Keys on PostgreSQL across nodes (core/store/postgres/): a key saved through one node is read by
// another with the same fields, and each node's key cache hears of a change made elsewhere within
// a second (LISTEN/NOTIFY), also after its listening connection was cut. Real PostgreSQL, started
// by the test unless LLMSVC_TEST_DATABASE_URL names one.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import type { ApiKeyRecord } from '../core/store/index.js';
import { PostgresApiKeyRepository } from '../core/store/postgres/apiKeys.js';
import { PostgresChangeFeed } from '../core/store/postgres/changeFeed.js';
import { openPostgresPool } from '../core/store/postgres/pool.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';

interface Node {
  pool: pg.Pool;
  feed: PostgresChangeFeed;
  keys: PostgresApiKeyRepository;
}

let server: PostgresServer | undefined;
let databaseUrl: string;
const nodes: Node[] = [];
const feedErrors: Error[] = [];

async function startNode(): Promise<Node> {
  const pool = await openPostgresPool(databaseUrl, () => undefined, 4);
  const feed = await PostgresChangeFeed.open(databaseUrl, (error) => feedErrors.push(error));
  const node = { pool, feed, keys: new PostgresApiKeyRepository(pool, feed) };
  nodes.push(node);
  return node;
}

function newKey(id: string): ApiKeyRecord {
  return {
    id,
    name: `key ${id}`,
    prefix: 'sk-llm-abcd',
    secretHash: `hash-${id}`,
    scope: 'user',
    models: ['tiny*', 'small'],
    rpm: 100,
    tpm: null,
    maxConcurrent: 4,
    dailyTokens: null,
    monthlyTokens: 5_000_000,
    expiresAt: Date.UTC(2031, 0, 1),
    createdAt: Date.UTC(2026, 11, 6, 3, 0, 0, 123),
    lastUsedAt: null,
    disabled: false,
    revokedAt: null,
    cache: true,
  };
}

/** Resolves with the ms it took `node`'s key version to move from `seen`; fails after a second. */
async function heardWithin1s(node: Node, seen: number): Promise<number> {
  const started = performance.now();
  while (node.keys.dataVersion() === seen) {
    if (performance.now() - started > 1000) assert.fail('the change was not heard within 1 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

describe('API keys on PostgreSQL across nodes', () => {
  before(async () => {
    server = await testPostgres();
    databaseUrl = await createDatabase(server.url, `llmsvc_keys_${process.pid}`);
  });
  after(async () => {
    for (const node of nodes) {
      await node.feed.close();
      await node.pool.end();
    }
    await server?.stop();
  });

  test('a key saved on node 1 is read on node 2 field for field; a revocation on node 2 reaches node 1 within a second', async () => {
    const [node1, node2] = [await startNode(), await startNode()];
    const key = newKey('key_one');
    const node2Seen = node2.keys.dataVersion();
    await node1.keys.save(key);
    await heardWithin1s(node2, node2Seen);
    assert.deepEqual(await node2.keys.findByHash(key.secretHash), key);
    assert.deepEqual(await node2.keys.list(), [key]);

    const node1Seen = node1.keys.dataVersion();
    const revoked = { ...key, revokedAt: Date.now() };
    await node2.keys.save(revoked);
    await heardWithin1s(node1, node1Seen);
    assert.deepEqual(await node1.keys.find(key.id), revoked);

    // Changes of one key from both nodes at once all apply (the row is locked from read to save).
    const changes = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? node1 : node2).keys.modify(key.id, (current) => ({ ...current, rpm: current.rpm! + 1 })));
    await Promise.all(changes);
    assert.equal((await node1.keys.find(key.id))!.rpm, 110);
    assert.equal(await node1.keys.modify('no_such_key', (current) => current), undefined);

    await node1.keys.touch(key.id, Date.UTC(2026, 11, 6, 4));
    assert.equal((await node2.keys.find(key.id))!.lastUsedAt, Date.UTC(2026, 11, 6, 4));
    assert.equal(await node2.keys.findByHash('no such hash'), undefined);
  });

  test('a node whose listening connection is cut treats every cache as stale, listens again, and hears later changes', async () => {
    const [node1, node2] = [await startNode(), await startNode()];
    const listening = await node1.pool.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN llmsvc_changes'`,
    );
    const before = node2.keys.dataVersion();
    // Cut every listener of the database (node 2's among them), as a server restart would.
    await node1.pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [listening.rows.map((row) => row.pid)]);
    await heardWithin1s(node2, before);
    // Once both listen again (and the reconnect's own move of the version is past), a save is heard.
    const listenersSql = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN llmsvc_changes'`;
    const deadline = Date.now() + 5000;
    while ((await node1.pool.query<{ n: number }>(listenersSql)).rows[0]!.n < listening.rows.length) {
      assert.ok(Date.now() < deadline, 'the nodes did not listen again within 5 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    const seen = node2.keys.dataVersion();
    await node1.keys.save(newKey('key_after_reconnect'));
    await heardWithin1s(node2, seen);
    assert.equal((await node2.keys.findByHash('hash-key_after_reconnect'))?.id, 'key_after_reconnect');
    assert.ok(feedErrors.length > 0, 'the cut connection was reported');
  });
});
