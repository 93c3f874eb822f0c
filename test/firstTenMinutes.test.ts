import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestServer, testAdminKey, type TestServer } from './support/server.js';

// Defects a new user hit in their first ten minutes with llmsvc (issue 12), one test each.

let server: TestServer;

before(async () => {
  server = await startTestServer({ context_size: 512, auth_failure_limit: 1000 });
});
after(() => server.stop());

describe('an Authorization header without "Bearer "', () => {
  for (const [name, header, says] of [
    ['the raw key', testAdminKey, /without the 'Bearer ' scheme/],
    ['another scheme', `Basic ${Buffer.from(`user:${testAdminKey}`).toString('base64')}`, /uses the 'Basic' scheme/],
    ['Bearer with no key', 'Bearer', /no key follows it/],
    ['an unknown scheme', `sk-llmsvc-${'x'.repeat(12)} ${testAdminKey}`, /does not start with 'Bearer '/],
  ] as const) {
    test(`${name}: says what is wrong with the header, not "You didn't provide an API key"`, async () => {
      const response = await fetch(`${server.url}/v1/models`, { headers: { authorization: header } });
      assert.equal(response.status, 401);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'invalid_api_key');
      assert.match(error.message, says);
      assert.match(error.message, /must be 'Bearer <key>'/);
      assert.ok(!error.message.includes(testAdminKey), 'the key is never echoed');
    });
  }

  test('the same header through the Anthropic shape, and x-api-key beside it still works', async () => {
    const anthropic = await fetch(`${server.url}/v1/models`, { headers: { authorization: testAdminKey, 'anthropic-version': '2023-06-01' } });
    assert.equal(anthropic.status, 401);
    const body = (await anthropic.json()) as { type: string; error: { type: string; message: string } };
    assert.equal(body.error.type, 'authentication_error');
    assert.match(body.error.message, /must be 'Bearer <key>'/);
    const withXApiKey = await fetch(`${server.url}/v1/models`, { headers: { authorization: 'Basic abc', 'x-api-key': testAdminKey } });
    assert.equal(withXApiKey.status, 200);
  });
});
