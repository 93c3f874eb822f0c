import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import OpenAI, { toFile } from 'openai';
import { SqliteStore } from '../core/store/index.js';
import { startS3, s3Credentials } from './support/s3rver.js';
import { authedFetch, sqliteDbOf, startTestServer, tempDir, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

const boundary = 'llmsvc-test-boundary';

function multipart(parts: string[]): string {
  return parts.map((part) => `--${boundary}\r\n${part}`).join('\r\n');
}

describe('POST /v1/files with a malformed upload', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.stop());

  async function upload(contentType: string, body: string) {
    const response = await authedFetch(`${server.url}/v1/files`, { method: 'POST', headers: { 'content-type': contentType }, body });
    return { status: response.status, body: (await response.json()) as { error: { type: string; message: string; param: string | null } } };
  }

  async function assertNothingStored() {
    const list = (await (await authedFetch(`${server.url}/v1/files`)).json()) as { data: unknown[] };
    assert.deepEqual(list.data, []);
  }

  it('a multipart body without a boundary is a 400, not a 500', async () => {
    const { status, body } = await upload('multipart/form-data', 'purpose=batch');
    assert.equal(status, 400);
    assert.equal(body.error.type, 'invalid_request_error');
    assert.match(body.error.message, /multipart body could not be read.*Boundary/i);
    await assertNothingStored();
  });

  it('a truncated multipart body is a 400, not a 500', async () => {
    const truncated = multipart([
      'Content-Disposition: form-data; name="purpose"\r\n\r\nbatch',
      'Content-Disposition: form-data; name="file"; filename="lines.jsonl"\r\nContent-Type: application/jsonl\r\n\r\n{"custom_id":"a"',
    ]);
    const { status, body } = await upload(`multipart/form-data; boundary=${boundary}`, truncated);
    assert.equal(status, 400);
    assert.match(body.error.message, /multipart body could not be read/);
    await assertNothingStored();
  });

  it('an application/octet-stream file part without a filename is a 400, not a NOT NULL 500', async () => {
    const noFilename =
      multipart([
        'Content-Disposition: form-data; name="purpose"\r\n\r\nassistants',
        'Content-Disposition: form-data; name="file"\r\nContent-Type: application/octet-stream\r\n\r\nhello',
      ]) + `\r\n--${boundary}--\r\n`;
    const { status, body } = await upload(`multipart/form-data; boundary=${boundary}`, noFilename);
    assert.equal(status, 400);
    assert.equal(body.error.param, 'file');
    assert.match(body.error.message, /has no filename/);
    await assertNothingStored();
  });
});

describe('file contents in the blob store', () => {
  test('data dir: an upload is a content-addressed blob, served back, removed with its last file', async () => {
    const server = await startTestServer();
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const content = '{"custom_id":"a"}\n';
      const sha256 = createHash('sha256').update(content).digest('hex');
      const blob = path.join(server.dataDir, 'blobs', sha256.slice(0, 2), sha256);
      const first = await client.files.create({ file: await toFile(Buffer.from(content), 'a.jsonl'), purpose: 'batch' });
      const second = await client.files.create({ file: await toFile(Buffer.from(content), 'b.jsonl'), purpose: 'batch' });
      assert.equal(fs.readFileSync(blob, 'utf8'), content);
      assert.equal(await (await client.files.content(second.id)).text(), content);
      await client.files.delete(first.id);
      assert.ok(fs.existsSync(blob), 'still used by the second file');
      await client.files.delete(second.id);
      assert.ok(!fs.existsSync(blob), 'deleted with its last file');
      // An invalid purpose, known only after the file part was stored: nothing is left.
      await assert.rejects(client.files.create({ file: await toFile(Buffer.from('other'), 'c.jsonl'), purpose: 'nonsense' as never }), (error: any) => error.status === 400);
      assert.deepEqual(fs.readdirSync(path.join(server.dataDir, 'blobs')).filter((name) => name !== 'tmp' && fs.readdirSync(path.join(server.dataDir, 'blobs', name)).length > 0), []);
    } finally {
      await server.stop();
    }
  });

  test('contents kept in SQLite by an older version move to the blob store at start', async () => {
    const dataDir = tempDir();
    const store = SqliteStore.open(dataDir);
    store.db
      .prepare("INSERT INTO files (id, filename, bytes, purpose, created_at, sha256, content) VALUES ('file-legacy', 'old.txt', 11, 'assistants', 1700000000, ?, ?)")
      .run(createHash('sha256').update('legacy text').digest('hex'), Buffer.from('legacy text'));
    store.dispose();
    const server = await startTestServer({ data_dir: dataDir });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      assert.equal(await (await client.files.content('file-legacy')).text(), 'legacy text');
      const row = sqliteDbOf(server.service.store).prepare("SELECT blob_key, length(content) AS stored FROM files WHERE id = 'file-legacy'").get() as { blob_key: string; stored: number };
      assert.equal(row.blob_key, createHash('sha256').update('legacy text').digest('hex'));
      assert.equal(row.stored, 0, 'the copy in SQLite is gone');
    } finally {
      await server.stop();
    }
  });

  test('S3 (s3rver): uploads and batch results live in the bucket; an S3 outage is a clear 503 and stores nothing', async () => {
    const s3 = await startS3();
    Object.assign(process.env, s3Credentials);
    const server = await startTestServer({
      context_size: 256,
      storage: { type: 's3', bucket: s3.bucket, prefix: 'files/', endpoint: s3.endpoint, region: 'us-east-1', force_path_style: true },
    });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const lines = [0, 1, 2].map((index) => JSON.stringify({ custom_id: `s3-${index}`, method: 'POST', url: '/v1/chat/completions', body: { model: tinyModelId, messages: [{ role: 'user', content: `Hi ${index}` }], max_tokens: 3, seed: index, temperature: 0 } }));
      const input = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'in.jsonl'), purpose: 'batch' });
      const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      let done = batch;
      await waitFor(async () => ['completed', 'failed'].includes((done = await client.batches.retrieve(batch.id)).status), 60_000);
      assert.equal(done.status, 'completed');
      const output = (await (await client.files.content(done.output_file_id!)).text()).trim().split('\n');
      assert.equal(output.length, 3);
      const s3Client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
      const listed = await s3Client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'files/' }));
      assert.equal(listed.KeyCount, 2, 'the input file and the output file');
      s3Client.destroy();
      assert.equal(fs.existsSync(path.join(server.dataDir, 'blobs')), false, 'nothing in the data dir');

      await s3.close(); // the outage
      const before = (await client.files.list()).data.length;
      const response = await authedFetch(`${server.url}/v1/files`, { method: 'POST', body: uploadForm('x.jsonl', 'batch', '{"a":1}\n') });
      assert.equal(response.status, 503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'storage_unavailable');
      assert.match(body.error.message, /S3 file store could not store the file.*Nothing was stored/);
      assert.equal((await client.files.list()).data.length, before, 'no file row without its content');
      assert.doesNotMatch(server.logs(), /S3RVER/, 'credentials never logged');
    } finally {
      await server.stop();
      await s3.close().catch(() => {});
    }
  });
});

function uploadForm(filename: string, purpose: string, content: string): FormData {
  const form = new FormData();
  form.append('purpose', purpose);
  form.append('file', new Blob([content]), filename);
  return form;
}
