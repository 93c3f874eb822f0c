import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { authedFetch, startTestServer, type TestServer } from './support/server.js';

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
