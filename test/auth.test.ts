import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { loadConfig } from '../core/config/index.js';
import { Service } from '../core/service.js';
import { authedFetch, startTestServer, tempDir, testAdminKey, testModelsDir, tinyModelId, type TestServer } from './support/server.js';

let server: TestServer;
let now = Date.UTC(2026, 10, 26, 12, 0, 0);
const clock = () => now;

before(async () => {
  // Many deliberate failures below; the address throttle has a test of its own.
  server = await startTestServer({ context_size: 1024, auth_failure_limit: 1000 }, {}, { clock });
});
after(() => server.stop());

const openai = (apiKey: string) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
const anthropic = (apiKey: string) => new Anthropic({ baseURL: server.url, apiKey, maxRetries: 0 });

async function createKey(body: Record<string, unknown>): Promise<{ id: string; key: string } & Record<string, unknown>> {
  const response = await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as { id: string; key: string };
}

async function assertOpenAiError(promise: Promise<unknown>, status: number, code: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.ok(error.message.length > 30, 'the message says what to do');
    return true;
  });
}

async function assertAnthropicError(promise: Promise<unknown>, errorClass: typeof Anthropic.APIError, type: string) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, String(error));
    assert.equal((error as any).error?.error?.type, type, 'Anthropic error shape');
    return true;
  });
}

/** Usage is recorded when the server is done with a response, which can be a moment after the
 *  client has it: read it once it has the expected number of requests. */
async function usageRows(query: string, requests: number): Promise<any[]> {
  for (let attempt = 0; ; attempt++) {
    const rows = ((await (await authedFetch(`${server.url}/admin/v1/usage?${query}`)).json()) as { data: any[] }).data;
    if (rows.reduce((sum, row) => sum + row.requests, 0) >= requests || attempt === 100) return rows;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// Seeded: the token counts these tests assert must not depend on an early end-of-sequence draw.
const chat = (client: OpenAI, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, seed: 1, ...extra });

describe('authentication', () => {
  test('health checks are public; every other route needs a key', async () => {
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    // 503 while llama.cpp is still loading, 200 after: never 401.
    assert.ok([200, 503].includes((await fetch(`${server.url}/readyz`)).status));
    for (const [method, url] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions'], ['GET', '/metrics'], ['GET', '/admin/v1/keys'], ['GET', '/nothing']]) {
      const response = await fetch(`${server.url}${url}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      assert.equal(response.status, 401, `${method} ${url}`);
      assert.equal(((await response.json()) as any).error.code, 'missing_api_key');
    }
  });

  test('missing and wrong keys are 401s through both SDKs', async () => {
    await assertOpenAiError(openai('sk-llmsvc-not-a-real-key-at-all').models.list(), 401, 'invalid_api_key');
    await assertAnthropicError(anthropic('sk-llmsvc-not-a-real-key-at-all').models.list(), Anthropic.AuthenticationError, 'authentication_error');
    const noKey = await fetch(`${server.url}/v1/models`, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(noKey.status, 401);
    assert.deepEqual(Object.keys((await noKey.json()) as object).sort(), ['error', 'type'], 'Anthropic clients get the Anthropic error shape');
  });

  test('a key works as Bearer (OpenAI SDK) and as x-api-key (Anthropic SDK)', async () => {
    const { key } = await createKey({ name: 'both-sdks' });
    assert.match(key, /^sk-llmsvc-[A-Za-z0-9]{43}$/);
    assert.equal((await openai(key).models.list()).data[0]!.id, tinyModelId);
    const viaXApiKey = await fetch(`${server.url}/v1/models`, { headers: { 'x-api-key': key } });
    assert.equal(viaXApiKey.status, 200);
    await anthropic(key).models.list(); // authenticates: no error
  });

  test('keys are stored hashed: the secret appears nowhere in the database file', async () => {
    const { key, id } = await createKey({ name: 'hashed' });
    const dbBytes = Buffer.concat(
      ['llmsvc.sqlite', 'llmsvc.sqlite-wal'].map((name) => path.join(server.dataDir, name)).filter(fs.existsSync).map((file) => fs.readFileSync(file)),
    );
    assert.ok(!dbBytes.includes(key), 'no secret in SQLite');
    assert.ok(!dbBytes.includes(testAdminKey), 'no admin secret in SQLite');
    const listed = (await (await authedFetch(`${server.url}/admin/v1/keys/${id}`)).json()) as Record<string, unknown>;
    assert.equal(listed.key, undefined, 'the secret is shown only at creation');
    assert.equal(listed.prefix, key.slice(0, 14));
    await openai(key).models.list();
    assert.ok(!server.logs().includes(key), 'no secret in any log line');
  });

  test('revoked, rotated, disabled and expired keys stop working', async () => {
    const revoked = await createKey({ name: 'to-revoke' });
    await openai(revoked.key).models.list();
    const deletion = await authedFetch(`${server.url}/admin/v1/keys/${revoked.id}`, { method: 'DELETE' });
    assert.equal(deletion.status, 200);
    await assertOpenAiError(openai(revoked.key).models.list(), 401, 'invalid_api_key');

    const rotating = await createKey({ name: 'to-rotate' });
    const rotated = (await (await authedFetch(`${server.url}/admin/v1/keys/${rotating.id}/rotate`, { method: 'POST' })).json()) as { key: string; id: string };
    assert.equal(rotated.id, rotating.id);
    await assertOpenAiError(openai(rotating.key).models.list(), 401, 'invalid_api_key');
    await openai(rotated.key).models.list();

    const disabled = await createKey({ name: 'to-disable' });
    await authedFetch(`${server.url}/admin/v1/keys/${disabled.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"disabled": true}' });
    await assertOpenAiError(openai(disabled.key).models.list(), 401, 'invalid_api_key');

    const expiring = await createKey({ name: 'expiring', expires_at: Math.floor(now / 1000) + 60 });
    await openai(expiring.key).models.list();
    now += 61_000;
    await assertOpenAiError(openai(expiring.key).models.list(), 401, 'api_key_expired');
    await assertAnthropicError(anthropic(expiring.key).models.list(), Anthropic.AuthenticationError, 'authentication_error');
  });

  test('admin routes and /metrics need admin scope; a metrics token reads /metrics only', async () => {
    const { key } = await createKey({ name: 'plain-user' });
    for (const url of ['/admin/v1/keys', '/metrics']) {
      const response = await fetch(`${server.url}${url}`, { headers: { authorization: `Bearer ${key}` } });
      assert.equal(response.status, 403, url);
      assert.equal(((await response.json()) as any).error.code, 'insufficient_scope');
    }
    assert.equal((await authedFetch(`${server.url}/metrics`)).status, 200);
    const scraped = await startTestServer({ metrics_token: 'prometheus-scrape-token-123' });
    try {
      const withToken = { headers: { authorization: 'Bearer prometheus-scrape-token-123' } };
      assert.equal((await fetch(`${scraped.url}/metrics`, withToken)).status, 200);
      assert.equal((await fetch(`${scraped.url}/v1/models`, withToken)).status, 401, 'the metrics token opens /metrics only');
    } finally {
      await scraped.stop();
    }
    await assertAnthropicError(
      anthropic(key).get('/admin/v1/keys') as Promise<unknown>,
      Anthropic.PermissionDeniedError,
      'permission_error',
    );
  });

  test('a model outside the key is a 403 and is not listed', async () => {
    const { key } = await createKey({ name: 'limited-models', models: ['other-*'] });
    await assertOpenAiError(chat(openai(key)), 403, 'model_not_allowed');
    await assertOpenAiError(openai(key).models.retrieve(tinyModelId), 403, 'model_not_allowed');
    await assertAnthropicError(anthropic(key).models.retrieve(tinyModelId), Anthropic.PermissionDeniedError, 'permission_error');
    assert.deepEqual((await openai(key).models.list()).data, []);
    const { key: wildcard } = await createKey({ name: 'llama-models', models: ['llama-*'] });
    assert.equal((await chat(openai(wildcard))).usage!.completion_tokens, 3);
  });

  test('bad admin input is a 400 naming the field; an unknown key id is a 404', async () => {
    const bad = await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "x", "rpm": -1}' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.param, 'rpm');
    const missing = await authedFetch(`${server.url}/admin/v1/keys/key_nope`);
    assert.equal(missing.status, 404);
  });
});

describe('a key opts in to the response cache', () => {
  test('cache is false by default, set on create, changed by PATCH and shown by GET', async () => {
    const plain = await createKey({ name: 'no-cache' });
    assert.equal(plain.cache, false);
    const opted = await createKey({ name: 'cache-on', cache: true });
    assert.equal(opted.cache, true);
    const patched = await authedFetch(`${server.url}/admin/v1/keys/${opted.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"cache": false}' });
    assert.equal(((await patched.json()) as any).cache, false);
    assert.equal(((await (await authedFetch(`${server.url}/admin/v1/keys/${opted.id}`)).json()) as any).cache, false);
    const listed = ((await (await authedFetch(`${server.url}/admin/v1/keys`)).json()) as { data: any[] }).data;
    assert.equal(listed.find((key) => key.id === plain.id)?.cache, false);
    const bad = await authedFetch(`${server.url}/admin/v1/keys/${opted.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"cache": "yes"}' });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.param, 'cache');
  });

  test("random sampling is replayed from the cache for a key with cache: true, not for a key without", async () => {
    const cached = await startTestServer({ cache: true });
    try {
      const create = async (body: object) => {
        const response = await authedFetch(`${cached.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return ((await response.json()) as { key: string }).key;
      };
      const client = async (body: object) => new OpenAI({ baseURL: `${cached.url}/v1`, apiKey: await create(body), maxRetries: 0 });
      const status = async (openaiClient: OpenAI, content: string) => {
        const request = { model: tinyModelId, messages: [{ role: 'user' as const, content }], temperature: 1, max_tokens: 3 };
        const { response } = await openaiClient.chat.completions.create(request).withResponse();
        return response.headers.get('x-llmsvc-cache');
      };
      const optedIn = await client({ name: 'cache-on', cache: true });
      assert.equal(await status(optedIn, 'random but cached'), 'miss');
      assert.equal(await status(optedIn, 'random but cached'), 'hit');
      const plain = await client({ name: 'no-cache' });
      assert.equal(await status(plain, 'random, not cached'), 'miss');
      assert.equal(await status(plain, 'random, not cached'), 'miss', 'unseeded sampling is not replayed for a key without cache');
      // The Anthropic route honours the key too.
      const claude = new Anthropic({ baseURL: cached.url, apiKey: await create({ name: 'anthropic-cache', cache: true }), maxRetries: 0 });
      const message = { model: tinyModelId, max_tokens: 3, temperature: 1, messages: [{ role: 'user' as const, content: 'anthropic, cached' }] };
      assert.equal((await claude.messages.create(message).withResponse()).response.headers.get('x-llmsvc-cache'), 'miss');
      assert.equal((await claude.messages.create(message).withResponse()).response.headers.get('x-llmsvc-cache'), 'hit');
    } finally {
      await cached.stop();
    }
  });
});

describe('limits', () => {
  test('1,000 concurrent requests on a key with RPM 100: exactly 100 succeed, the rest get 429 with Retry-After', async () => {
    const { key } = await createKey({ name: 'rpm-100', rpm: 100 });
    const responses = await Promise.all(
      Array.from({ length: 1000 }, () => fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })),
    );
    const statuses = responses.map((r) => r.status);
    assert.equal(statuses.filter((s) => s === 200).length, 100);
    assert.equal(statuses.filter((s) => s === 429).length, 900);
    const limited = responses.find((r) => r.status === 429)!;
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal(limited.headers.get('x-ratelimit-limit-requests'), '100');
    assert.equal(limited.headers.get('x-ratelimit-remaining-requests'), '0');
    assert.match(limited.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(ms|s|m\d+s)$/);
    const body = (await limited.json()) as any;
    assert.equal(body.error.code, 'rate_limit_exceeded');
    assert.equal(body.error.type, 'requests');
    await Promise.all(responses.filter((r) => !r.bodyUsed).map((r) => r.body?.cancel()));
    // The SDKs see a RateLimitError; after the window has passed, the key works again.
    await assert.rejects(openai(key).models.list(), OpenAI.RateLimitError);
    await assert.rejects(anthropic(key).models.list(), Anthropic.RateLimitError);
    now += 60_001;
    const page = await openai(key).models.list().withResponse();
    assert.equal(page.response.headers.get('x-ratelimit-remaining-requests'), '99');
  });

  test('the concurrency cap refuses a second request while the first runs', async () => {
    const { key } = await createKey({ name: 'one-at-a-time', max_concurrent: 1 });
    const client = openai(key);
    const stream = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 200, seed: 200, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // the first request is now running
    await assertOpenAiError(chat(client), 429, 'concurrency_limit_exceeded');
    while (!(await iterator.next()).done);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal((await chat(client)).usage!.completion_tokens, 3);
  });

  test('TPM reserves prompt + max_tokens up front and settles to actual use', async () => {
    const { key } = await createKey({ name: 'tpm', tpm: 300 });
    const client = openai(key);
    // A probe to find a stop sequence that ends this seed's answer after a few tokens.
    const probe = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 8, seed: 21 });
    const tokensAfterProbe = probe.usage!.total_tokens;
    const stop = probe.choices[0]!.message.content!.slice(3, 6);
    const early = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 250, seed: 21, stop }).withResponse();
    assert.equal(early.data.choices[0]!.finish_reason, 'stop');
    const used = tokensAfterProbe + early.data.usage!.total_tokens;
    // Settled: the window holds what was used, not the 250 reserved.
    const models = await client.models.list().withResponse();
    assert.equal(models.response.headers.get('x-ratelimit-remaining-tokens'), String(300 - used));
    // A request whose reservation no longer fits is refused before it runs, with the token headers.
    await assert.rejects(client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 290 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'rate_limit_exceeded');
      assert.equal(error.type, 'tokens');
      assert.equal(error.headers?.get('x-ratelimit-limit-tokens'), '300');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      return true;
    });
    // Two requests that each fit, but not together: the second waits for nothing and is refused.
    now += 60_001;
    const first = client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 200, seed: 200, stream: true });
    const running = await first;
    const iterator = running[Symbol.asyncIterator]();
    await iterator.next();
    await assert.rejects(chat(client, { max_tokens: 200 }), OpenAI.RateLimitError);
    while (!(await iterator.next()).done);
  });

  test('a daily token quota is exhausted, then resets at the UTC day boundary', async () => {
    now = Date.UTC(2026, 10, 27, 23, 59, 0);
    const promptTokens = (await chat(openai(testAdminKey), { max_tokens: 1 })).usage!.prompt_tokens;
    // Room for a first request of 20 tokens, not for a second of 50 on the same day.
    const { key, id } = await createKey({ name: 'daily', daily_tokens: 2 * promptTokens + 40 });
    const client = openai(key);
    const first = await chat(client, { max_tokens: 20 });
    const used = first.usage!.total_tokens;
    assert.equal(used, promptTokens + 20);
    await assert.rejects(chat(client, { max_tokens: 50 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'insufficient_quota');
      assert.equal(error.type, 'insufficient_quota');
      // 60 s to midnight UTC.
      assert.equal(error.headers?.get('retry-after'), '60');
      return true;
    });
    now = Date.UTC(2026, 10, 28, 0, 0, 1);
    assert.equal((await chat(client, { max_tokens: 50 })).usage!.completion_tokens, 50);
    const usage = { data: await usageRows(`key_id=${id}`, 3) };
    assert.deepEqual(
      usage.data.map((row) => [row.day, row.model, row.requests, row.errors]),
      [
        ['2026-11-27', tinyModelId, 2, 1],
        ['2026-11-28', tinyModelId, 1, 0],
      ],
    );
    assert.equal(usage.data[0].total_tokens, used);
  });

  test('usage is recorded per key, model and day with exact token counts', async () => {
    now = Date.UTC(2026, 11, 1, 10, 0, 0);
    const { key, id } = await createKey({ name: 'usage' });
    const client = openai(key);
    const a = await chat(client, { max_tokens: 4 });
    const b = await client.completions.create({ model: tinyModelId, prompt: 'abc', max_tokens: 5, seed: 5 });
    const e = await client.embeddings.create({ model: tinyModelId, input: 'embed me' });
    await assert.rejects(chat(client, { model: 'missing' }));
    const usage = { data: await usageRows(`key_id=${id}&from=2026-12-01`, 4) };
    const byModel = Object.fromEntries(usage.data.map((row) => [row.model, row]));
    assert.equal(byModel[tinyModelId].requests, 3);
    assert.equal(byModel[tinyModelId].prompt_tokens, a.usage!.prompt_tokens + b.usage!.prompt_tokens + e.usage.prompt_tokens);
    assert.equal(byModel[tinyModelId].completion_tokens, 4 + 5);
    assert.equal(byModel.missing.errors, 1);
    const row = (await server.service.store.requestLog.recent(5)).find((entry) => entry.model === 'missing');
    assert.equal(row?.keyId, id, 'the request log names the key');
  });
});

describe('address throttling and LAN safety', () => {
  test('repeated invalid keys from one address are slowed with 429s', async () => {
    const throttled = await startTestServer({ auth_failure_limit: 3 });
    try {
      const wrong = new OpenAI({ baseURL: `${throttled.url}/v1`, apiKey: 'sk-llmsvc-guess', maxRetries: 0 });
      for (let i = 0; i < 3; i++) await assert.rejects(wrong.models.list(), OpenAI.AuthenticationError);
      await assertOpenAiError(wrong.models.list(), 429, 'too_many_failed_auth_attempts');
      const missing = await fetch(`${throttled.url}/v1/models`);
      assert.equal(missing.status, 429);
      assert.ok(Number(missing.headers.get('retry-after')) >= 1);
      // A valid key from the same address still works.
      assert.equal((await authedFetch(`${throttled.url}/v1/models`)).status, 200);
    } finally {
      await throttled.stop();
    }
  });

  test('auth off on a non-loopback address refuses to start, saying why', async () => {
    const config = loadConfig({ env: {}, flags: { host: '0.0.0.0', port: 0, auth: false, data_dir: tempDir(), models_dir: testModelsDir } });
    await assert.rejects(Service.start(config), /Refusing to serve 0\.0\.0\.0 with auth off/);
  });

  test('auth off on loopback serves without keys', async () => {
    const open = await startTestServer({ auth: false });
    try {
      assert.equal((await fetch(`${open.url}/v1/models`)).status, 200);
    } finally {
      await open.stop();
    }
  });
});
