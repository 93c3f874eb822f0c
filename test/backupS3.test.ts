// `llmsvc backup --out s3://bucket/prefix` against a real S3 server (s3rver on loopback), then
// `llmsvc restore --from s3://…` into a new data dir, and a served `llmsvc serve` on it has the
// key, the file and a searchable vector store. A changed object is refused naming the file; an
// unreachable endpoint is one clear sentence and exit 1 with nothing restored.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { assertRestored, seedDataDir, type Seeded } from './support/backupFixture.js';
import { runCliAsync as cli, startServe } from './support/cli.js';
import { startS3, s3Credentials, type S3Server } from './support/s3rver.js';
import { startTestServer, tempDir, testModelsDir, type TestServer } from './support/server.js';

let server: TestServer;
let s3: S3Server;
let bucket: S3Client;
let seeded: Seeded;
const work = tempDir('llmsvc-backup-s3-');
const savedEnv = { ...process.env };
before(async () => {
  s3 = await startS3();
  Object.assign(process.env, s3Credentials); // the CLI's AWS SDK finds them in its usual chain
  bucket = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  server = await startTestServer({ context_size: 512 });
  seeded = await seedDataDir(server.url);
});
after(async () => {
  await server.stop();
  bucket.destroy();
  await s3.close();
  process.env = savedEnv;
  fs.rmSync(work, { recursive: true, force: true });
});

const s3Flags = () => ['--s3-endpoint', s3.endpoint, '--s3-force-path-style'];

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await bucket.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix }));
  return (listed.Contents ?? []).map((object) => object.Key!).sort();
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

let backupUrl = '';

test('backup to s3://, restore from it into a new data dir: the served data dir has the key, the file and a searchable vector store', async () => {
  fs.writeFileSync(path.join(server.dataDir, 'owner-only.key'), 'secret\n', { mode: 0o600 });
  const backup = await cli(['backup', '--data-dir', server.dataDir, '--models-dir', testModelsDir, '--out', `s3://${s3.bucket}/nightly`, ...s3Flags(), '--json']);
  assert.equal(backup.status, 0, backup.stderr);
  const manifest = JSON.parse(backup.stdout) as { location: string; files: { path: string }[]; blobs_not_included?: string };
  assert.match(manifest.location, new RegExp(`^s3://${s3.bucket}/nightly/llmsvc-backup-\\d{8}T\\d{6}Z$`));
  assert.equal(manifest.blobs_not_included, undefined, 'blobs of a data-dir blob store are in the backup');
  backupUrl = manifest.location;
  const prefix = backupUrl.slice(`s3://${s3.bucket}/`.length);
  const objects = await keysUnder(`${prefix}/`);
  assert.deepEqual(objects, [...manifest.files.map((file) => `${prefix}/${file.path}`), `${prefix}/manifest.json`].sort(), 'every file and the manifest are objects');
  assert.ok(manifest.files.some((file) => file.path.startsWith('data/blobs/')), 'the file content (a blob) is uploaded');
  assert.doesNotMatch(backup.stderr + backup.stdout, /S3RVER/, 'credentials never printed');

  // The prefix itself is not a backup: restore names the backups under it.
  const prefixOnly = await cli(['restore', '--from', `s3://${s3.bucket}/nightly`, '--data-dir', path.join(work, 'unused'), ...s3Flags()]);
  assert.equal(prefixOnly.status, 1);
  assert.match(prefixOnly.stderr, new RegExp(`No llmsvc backup at s3://${s3.bucket}/nightly: manifest\\.json is missing.*Backups under it: ${backupUrl.split('/').pop()}`));

  const restored = path.join(work, 'restored');
  const restore = await cli(['restore', '--from', backupUrl, '--data-dir', restored, ...s3Flags()]);
  assert.equal(restore.status, 0, restore.stderr);
  assert.match(restore.stdout, /Restored \d+ files from s3:\/\//);
  assert.equal((fs.statSync(restored).mode & 0o777).toString(8), '700');
  const modeOf = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);
  assert.equal(modeOf(path.join(restored, 'owner-only.key')), '600', 'an owner-only file (like the admin key file) stays owner-only through S3');
  for (const file of manifest.files.filter((each) => each.path.startsWith('data/'))) {
    const relative = file.path.slice('data/'.length);
    assert.equal(modeOf(path.join(restored, relative)), modeOf(path.join(server.dataDir, relative)), `${relative} keeps its mode`);
  }

  const serve = await startServe(['--data-dir', restored, '--models-dir', testModelsDir, '--threads', '1', '--context-size', '512', '--log-level', 'silent']);
  try {
    await assertRestored(serve.url, seeded);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
});

test('a changed object in the bucket is refused on restore, naming the file; nothing is restored', async () => {
  assert.ok(backupUrl, 'the backup test ran first');
  const key = `${backupUrl.slice(`s3://${s3.bucket}/`.length)}/data/llmsvc.sqlite`;
  const original = Buffer.from(await (await bucket.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))).Body!.transformToByteArray());
  const changed = Buffer.from(original);
  changed[changed.length - 100]! ^= 0xff;
  await bucket.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: changed }));
  try {
    const fresh = path.join(work, 'tampered');
    const tampered = await cli(['restore', '--from', backupUrl, '--data-dir', fresh, ...s3Flags()]);
    assert.equal(tampered.status, 1);
    assert.match(tampered.stderr, new RegExp(`The backup in ${backupUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} fails its checksums, nothing restored: data/llmsvc\\.sqlite: SHA-256 does not match`));
    assert.ok(!fs.existsSync(path.join(fresh, 'llmsvc.sqlite')), 'nothing written to the data dir');
  } finally {
    await bucket.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: original }));
  }

  // A backup whose manifest never arrived (an upload cut short) is refused as incomplete.
  const manifestKey = `${backupUrl.slice(`s3://${s3.bucket}/`.length)}/manifest.json`;
  await bucket.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: manifestKey }));
  const incomplete = await cli(['restore', '--from', backupUrl, '--data-dir', path.join(work, 'incomplete'), ...s3Flags()]);
  assert.equal(incomplete.status, 1);
  assert.match(incomplete.stderr, /manifest\.json is missing \(the wrong prefix, or a backup whose upload did not finish\)/);
});

test('an unreachable S3 endpoint: backup and restore fail with one clear sentence and exit 1, nothing restored', async () => {
  const endpoint = `http://127.0.0.1:${await closedPort()}`;
  const backup = await cli(['backup', '--data-dir', server.dataDir, '--out', `s3://${s3.bucket}/down`, '--s3-endpoint', endpoint, '--s3-force-path-style']);
  assert.equal(backup.status, 1);
  assert.match(backup.stderr, /^llmsvc: Could not upload the backup to s3:\/\/llmsvc-test\/down\/llmsvc-backup-\S+ \(.*ECONNREFUSED.*\): it has no manifest\.json, so it is incomplete/m);
  assert.equal(backup.stderr.split('\n').filter((line) => line.startsWith('llmsvc:')).length, 1, `one error line: ${backup.stderr}`);

  const target = path.join(work, 'never');
  const restore = await cli(['restore', '--from', `s3://${s3.bucket}/down/x`, '--data-dir', target, '--s3-endpoint', endpoint, '--s3-force-path-style']);
  assert.equal(restore.status, 1);
  assert.match(restore.stderr, /^llmsvc: Could not download the backup from s3:\/\/llmsvc-test\/down\/x \(.*ECONNREFUSED.*\); nothing was restored/m);
  assert.ok(!fs.existsSync(target) || fs.readdirSync(target).length === 0, 'nothing half-restored');
});

test('with an S3 blob store, the endpoint comes from the config and the manifest says the blobs stay in the bucket', async () => {
  const config = path.join(work, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ storage: { type: 's3', bucket: s3.bucket, prefix: 'blobs/', endpoint: s3.endpoint, force_path_style: true } }));
  const backup = await cli(['backup', '--data-dir', server.dataDir, '--models-dir', testModelsDir, '--config', config, '--out', `s3://${s3.bucket}/from-config`]);
  assert.equal(backup.status, 0, backup.stderr);
  assert.match(backup.stdout, /File contents live in s3:\/\/llmsvc-test\/blobs\/ \(storage\.type s3\) and are not copied into this backup/);
  const manifestKey = (await keysUnder('from-config/')).find((key) => key.endsWith('/manifest.json'));
  assert.ok(manifestKey, 'uploaded with the config\'s endpoint and path style, no flags');
  const manifest = JSON.parse(await (await bucket.send(new GetObjectCommand({ Bucket: s3.bucket, Key: manifestKey }))).Body!.transformToString()) as { blobs_not_included?: string; files: { path: string }[] };
  assert.match(manifest.blobs_not_included ?? '', /are not copied into this backup/);
  assert.ok(manifest.files.some((file) => file.path === 'config.json'), 'the config travels with the backup');
  assert.ok(!manifest.files.some((file) => file.path.startsWith('data/blobs/')), 'no blob is copied');
});
