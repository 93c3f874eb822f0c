// `llmsvc backup` of a live server's data dir while requests keep arriving, then `llmsvc restore`
// into a new data dir and a server started on it: every key, usage row, request-log row, file,
// vector store (with its chunks searchable) and job is there. A tampered backup and a non-empty
// target are refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { assertRestored, seedDataDir, tableCounts } from './support/backupFixture.js';
import { runCliAsync as cli, startServe } from './support/cli.js';
import { startTestServer, tempDir, testAdminKey, testModelsDir, tinyModelId, type TestServer } from './support/server.js';

let server: TestServer;
let client: OpenAI;
const work = tempDir('llmsvc-backup-');
before(async () => {
  server = await startTestServer({ context_size: 512 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(async () => {
  await server.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

test('backup while requests run, restore into a new data dir: the restored server has every key, usage row, file, vector store and job', async () => {
  const seeded = await seedDataDir(server.url);
  const before = tableCounts(path.join(server.dataDir, 'llmsvc.sqlite'));

  // Traffic keeps flowing while the backup runs; none of it may fail.
  let running = true;
  let answered = 0;
  const traffic = (async () => {
    while (running) {
      await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: `hello ${answered}` }], max_tokens: 4, seed: 2 });
      answered++;
    }
  })();
  const backupDir = path.join(work, 'backup');
  const backup = await cli(['backup', '--data-dir', server.dataDir, '--models-dir', testModelsDir, '--out', backupDir, '--json']);
  running = false;
  await traffic;
  assert.equal(backup.status, 0, backup.stderr);
  assert.ok(answered > 0, 'requests were answered while the backup ran');
  const manifest = JSON.parse(backup.stdout) as { files: { path: string; size: number; sha256: string }[]; schema_version: number };
  const paths = manifest.files.map((f) => f.path);
  assert.ok(paths.includes('data/llmsvc.sqlite'), paths.join(', '));
  assert.ok(!paths.some((p) => p.endsWith('-wal') || p.endsWith('-shm')), 'no live WAL or shm file is copied');
  for (const f of manifest.files) assert.match(f.sha256, /^[0-9a-f]{64}$/);
  assert.ok(manifest.schema_version > 0);
  assert.ok(!fs.readdirSync(work).some((name) => name.includes('.partial')), 'no partial backup dir left');

  const restored = path.join(work, 'restored');
  const restore = await cli(['restore', '--from', backupDir, '--data-dir', restored, '--json']);
  assert.equal(restore.status, 0, restore.stderr);
  assert.equal((fs.statSync(restored).mode & 0o777).toString(8), '700');

  const after = tableCounts(path.join(restored, 'llmsvc.sqlite'));
  for (const [table, count] of Object.entries(before)) assert.ok(after[table]! >= count, `${table}: ${after[table]} restored rows, ${count} before the backup`);

  const serve = await startServe(['--data-dir', restored, '--models-dir', testModelsDir, '--threads', '1', '--context-size', '512', '--log-level', 'silent']);
  try {
    await assertRestored(serve.url, seeded);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }

  // A non-empty target is refused without --force; with --force it is replaced.
  const again = await cli(['restore', '--from', backupDir, '--data-dir', restored]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /is not empty: restore into an empty directory, or pass --force/);
  const forced = await cli(['restore', '--from', backupDir, '--data-dir', restored, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  assert.ok(!fs.existsSync(path.join(restored, 'llmsvc.sqlite-wal')), 'the old WAL is not replayed over the restored database');

  // One changed byte in the backup: refused, naming the file, nothing written.
  const db = path.join(backupDir, 'data', 'llmsvc.sqlite');
  const bytes = fs.readFileSync(db);
  bytes[bytes.length - 100] ^= 0xff;
  fs.writeFileSync(db, bytes);
  const fresh = path.join(work, 'fresh');
  const tampered = await cli(['restore', '--from', backupDir, '--data-dir', fresh]);
  assert.equal(tampered.status, 1);
  assert.match(tampered.stderr, /fails its checksums, nothing restored: data\/llmsvc\.sqlite: SHA-256 does not match/);
  assert.ok(!fs.existsSync(path.join(fresh, 'llmsvc.sqlite')));
});

test('backup refuses a non-empty output dir and a data dir without a database', async () => {
  const out = path.join(work, 'busy');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'x'), 'x');
  const busy = await cli(['backup', '--data-dir', server.dataDir, '--out', out]);
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, /is not empty: choose a new directory/);
  const empty = await cli(['backup', '--data-dir', path.join(work, 'nothing'), '--out', path.join(work, 'b2')]);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /No llmsvc database/);
});
