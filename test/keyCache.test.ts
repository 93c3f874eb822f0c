import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { KeyService } from '../core/auth/index.js';
import { SqliteStore } from '../core/store/index.js';
import { tempDir } from './support/server.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

let now = Date.UTC(2026, 10, 26, 12, 0, 0);
const clock = () => now;

/** A server's KeyService and, on a second SQLite connection to the same file, the CLI's. */
function twoConnections() {
  const dataDir = tempDir();
  dirs.push(dataDir);
  const serverStore = SqliteStore.open(dataDir);
  const cliStore = SqliteStore.open(dataDir);
  after(() => {
    serverStore.dispose();
    cliStore.dispose();
  });
  return { dataDir, serverStore, server: new KeyService(serverStore, clock), cli: new KeyService(cliStore, clock) };
}

const input = (extra: Record<string, unknown> = {}) => ({ name: 'k', scope: 'user' as const, models: ['*'], cache: false, ...extra });

/** authenticate throws at once for a cached key, or rejects after a read: either is a refusal. */
async function refused(service: KeyService, secret: string, code: string): Promise<void> {
  await assert.rejects(async () => service.authenticate(secret), (error: unknown) => (error as { code: string }).code === code);
}

describe('the key cache', () => {
  test('repeated authentications are served from memory, not SQLite', async () => {
    const { serverStore, server } = twoConnections();
    const { secret } = await server.create(input());
    let lookups = 0;
    const original = serverStore.apiKeys.findByHash.bind(serverStore.apiKeys);
    serverStore.apiKeys.findByHash = (hash) => {
      lookups++;
      return original(hash);
    };
    for (let i = 0; i < 50; i++) assert.equal((await server.authenticate(secret)).name, 'k');
    assert.equal(lookups, 1);
    assert.ok(Object.isFrozen(await server.authenticate(secret)), 'the shared record cannot be changed by a request');
    // Unknown secrets are looked up every time and never cached.
    for (let i = 0; i < 3; i++) await refused(server, 'sk-llmsvc-unknown', 'LLMSVC_ERR_INVALID_API_KEY');
    assert.equal(lookups, 4);
  });

  test('changes through the same service apply at once: patch, disable, rotate, revoke', async () => {
    const { server } = twoConnections();
    const { key, secret } = await server.create(input({ rpm: 5 }));
    assert.equal((await server.authenticate(secret)).rpm, 5);
    await server.update(key.id, { rpm: 7 });
    assert.equal((await server.authenticate(secret)).rpm, 7);
    await server.update(key.id, { disabled: true });
    await refused(server, secret, 'LLMSVC_ERR_INVALID_API_KEY');
    await server.update(key.id, { disabled: false });
    const rotated = await server.rotate(key.id);
    await refused(server, secret, 'LLMSVC_ERR_INVALID_API_KEY');
    assert.equal((await server.authenticate(rotated.secret)).id, key.id);
    await server.revoke(key.id);
    await refused(server, rotated.secret, 'LLMSVC_ERR_INVALID_API_KEY');
  });

  test('changes made on another connection (the CLI) apply from the next event-loop turn', async () => {
    const { server, cli } = twoConnections();
    const { key, secret } = await cli.create(input({ models: ['a-*'] }));
    assert.deepEqual((await server.authenticate(secret)).models, ['a-*']);
    await cli.update(key.id, { models: ['b-*'], tpm: 100 });
    await nextTurn();
    assert.deepEqual((await server.authenticate(secret)).models, ['b-*']);
    assert.equal((await server.authenticate(secret)).tpm, 100);
    await cli.update(key.id, { disabled: true });
    await nextTurn();
    await refused(server, secret, 'LLMSVC_ERR_INVALID_API_KEY');
    await cli.update(key.id, { disabled: false });
    await nextTurn();
    assert.equal((await server.authenticate(secret)).id, key.id);
    const rotated = await cli.rotate(key.id);
    await nextTurn();
    await refused(server, secret, 'LLMSVC_ERR_INVALID_API_KEY');
    assert.equal((await server.authenticate(rotated.secret)).id, key.id);
    await cli.revoke(key.id);
    await nextTurn();
    await refused(server, rotated.secret, 'LLMSVC_ERR_INVALID_API_KEY');
  });

  test('two changes of one key that arrive together both apply (each is one read-and-save step)', async () => {
    const { server } = twoConnections();
    const { key } = await server.create(input());
    await Promise.all([server.update(key.id, { rpm: 11 }), server.update(key.id, { tpm: 22 }), server.update(key.id, { name: 'renamed' })]);
    const changed = await server.get(key.id);
    assert.deepEqual([changed.rpm, changed.tpm, changed.name], [11, 22, 'renamed']);
    await Promise.all([server.revoke(key.id), server.update(key.id, { disabled: true })]);
    const revoked = await server.get(key.id);
    assert.ok(revoked.revokedAt !== null && revoked.disabled, 'the revocation is not undone by the update that read the key before it');
  });

  test('expiry needs no change: a cached key expires on time', async () => {
    const { server } = twoConnections();
    const { secret } = await server.create(input({ expires_at: now + 1000 }));
    assert.ok(await server.authenticate(secret));
    now += 1000;
    await refused(server, secret, 'LLMSVC_ERR_API_KEY_EXPIRED');
  });

  test('a key revoked by another process is refused from the next turn on', async () => {
    const { dataDir, serverStore, server, cli } = twoConnections();
    const { key, secret } = await cli.create(input());
    assert.equal((await server.authenticate(secret)).id, key.id);
    const script = `
      import { KeyService } from ${JSON.stringify(path.resolve(import.meta.dirname, '../core/auth/index.ts'))};
      import { SqliteStore } from ${JSON.stringify(path.resolve(import.meta.dirname, '../core/store/index.ts'))};
      const store = SqliteStore.open(${JSON.stringify(dataDir)});
      await new KeyService(store, Date.now).revoke(${JSON.stringify(key.id)});
      store.dispose();`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.status, 0, child.stderr);
    await nextTurn();
    await refused(server, secret, 'LLMSVC_ERR_INVALID_API_KEY');
    assert.ok((await serverStore.apiKeys.find(key.id))?.revokedAt !== null);
  });

  test('last use is written at most once a second per key', () => {
    const { server } = twoConnections();
    assert.equal(server.shouldTouch('key_a', now), true);
    assert.equal(server.shouldTouch('key_a', now + 10), false);
    assert.equal(server.shouldTouch('key_b', now + 10), true, 'per key');
    assert.equal(server.shouldTouch('key_a', now + 999), false);
    assert.equal(server.shouldTouch('key_a', now + 1000), true);
    assert.equal(server.shouldTouch('key_a', now - 5000), true, 'a clock that went back writes');
  });
});
