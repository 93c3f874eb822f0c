import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DataDirBlobStore, StorageUnavailableError, type BlobStore } from '../core/storage/index.js';
import { S3BlobStore } from '../core/storage/s3Store.js';
import { startS3, s3Credentials, type S3Server } from './support/s3rver.js';
import { tempDir } from './support/server.js';

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** A stream of `count` chunks of `size` bytes, made as it is read (never whole in memory). */
function generated(count: number, size: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      this.push(sent++ < count ? Buffer.alloc(size, sent % 251) : null);
    },
  });
}

function behavesAsABlobStore(name: string, open: () => BlobStore) {
  test(`${name}: put streams in and reports size and sha256; get streams out; delete removes`, async () => {
    const store = open();
    const content = 'line one\nline two\n';
    const stored = await store.put(Readable.from([Buffer.from('line one\n'), 'line two\n']));
    assert.equal(stored.bytes, Buffer.byteLength(content));
    assert.equal(stored.sha256, createHash('sha256').update(content).digest('hex'));
    assert.equal(await text(await store.get(stored.key)), content);
    await store.delete(stored.key);
    await assert.rejects(async () => text(await store.get(stored.key)));
  });

  test(`${name}: a 12 MiB stream (multipart for S3) round-trips`, async () => {
    const store = open();
    const expected = createHash('sha256');
    for (let index = 1; index <= 12; index++) expected.update(Buffer.alloc(1 << 20, index % 251));
    const stored = await store.put(generated(12, 1 << 20));
    assert.equal(stored.bytes, 12 << 20);
    assert.equal(stored.sha256, expected.digest('hex'));
    const back = createHash('sha256');
    for await (const chunk of await store.get(stored.key)) back.update(chunk);
    assert.equal(back.digest('hex'), stored.sha256);
    await store.delete(stored.key);
  });
}

describe('blob stores', () => {
  let s3: S3Server;
  const savedEnv = { ...process.env };
  before(async () => {
    s3 = await startS3();
    Object.assign(process.env, s3Credentials);
  });
  after(async () => {
    await s3.close();
    for (const key of Object.keys(s3Credentials)) if (savedEnv[key] === undefined) delete process.env[key];
  });

  const dataDirRoot = tempDir('blobs-');
  behavesAsABlobStore('data dir', () => new DataDirBlobStore(dataDirRoot));
  behavesAsABlobStore('S3 (s3rver)', () => new S3BlobStore({ bucket: s3.bucket, prefix: 'test/', endpoint: s3.endpoint, region: 'us-east-1', force_path_style: true }));

  test('data dir: content-addressed (the same content is one file), and no temporary left behind', async () => {
    const root = tempDir('blobs-');
    const store = new DataDirBlobStore(root);
    const first = await store.put(Readable.from(['same']));
    const second = await store.put(Readable.from(['same']));
    assert.equal(first.key, second.key);
    assert.equal(first.key, first.sha256);
    assert.ok(fs.existsSync(path.join(root, first.key.slice(0, 2), first.key)));
    assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), []);
  });

  test('data dir: a source stream that fails midway leaves nothing (no blob, no temporary)', async () => {
    const root = tempDir('blobs-');
    const store = new DataDirBlobStore(root);
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(store.put(failing), /client went away/);
    assert.deepEqual(fs.readdirSync(path.join(root, 'tmp')), []);
    assert.deepEqual(fs.readdirSync(root), ['tmp']);
  });

  test('S3: an upload cut off midway (multipart) leaves no object in the bucket', async () => {
    const store = new S3BlobStore({ bucket: s3.bucket, prefix: 'cut/', endpoint: s3.endpoint, region: 'us-east-1', force_path_style: true });
    let sent = 0;
    const cut = new Readable({
      read() {
        if (sent++ < 7) this.push(Buffer.alloc(1 << 20, 7));
        else this.destroy(new Error('client went away'));
      },
    });
    await assert.rejects(store.put(cut));
    const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'cut/' }));
    assert.equal(listed.KeyCount ?? 0, 0);
    client.destroy();
  });

  test('S3 outage: put is a clear StorageUnavailableError (503), and nothing is half-written', async () => {
    const outage = await startS3('outage');
    const store = new S3BlobStore({ bucket: outage.bucket, prefix: 'x/', endpoint: outage.endpoint, region: 'us-east-1', force_path_style: true });
    await outage.close();
    await assert.rejects(store.put(generated(8, 1 << 20)), (error: unknown) => {
      assert.ok(error instanceof StorageUnavailableError);
      assert.equal(error.status, 503);
      assert.match(error.message, /S3 file store could not store the file.*Nothing was stored/);
      assert.doesNotMatch(error.message, /S3RVER/, 'no credentials in the message');
      return true;
    });
  });
});
