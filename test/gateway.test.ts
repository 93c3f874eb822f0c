import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startEchoUpstream, type EchoUpstream } from './support/echoUpstream.js';
import { faults, startFaultProxy, type FaultProxy } from './support/faultProxy.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// The router's features end to end, through the official SDK: the response cache, PII redaction
// before a cloud target, and resilience against a fault-injecting proxy in front of an upstream.

let echo: EchoUpstream;
let proxy: FaultProxy;
let gateway: TestServer;
let client: OpenAI;

const fast = {
  max_retries: 2,
  retry_base_ms: 10,
  retry_max_ms: 2_000,
  first_byte_timeout_ms: 800,
  idle_timeout_ms: 400,
  response_timeout_ms: 1_600,
  circuit_failures: 3,
  circuit_cooldown_ms: 60_000,
};

before(async () => {
  echo = await startEchoUpstream();
  proxy = await startFaultProxy(echo.url.replace(/\/v1$/, ''));
  gateway = await startTestServer({
    cache: true,
    context_size: 512,
    providers: [
      { id: 'cloud', type: 'openai-compatible', base_url: echo.url },
      { id: 'flaky', type: 'openai-compatible', base_url: `${proxy.url}/v1`, resilience: fast },
      { id: 'backup', type: 'openai-compatible', base_url: echo.url },
      // The same proxy under its own circuit breaker, for the whole-answer timeout test.
      { id: 'patient', type: 'openai-compatible', base_url: `${proxy.url}/v1`, resilience: { ...fast, max_retries: 0 } },
    ],
    routes: [
      { model: 'scrubbed', targets: [{ provider: 'cloud', model: 'gpt-x' }], redact: true },
      { model: 'plain-cloud', targets: [{ provider: 'cloud', model: 'gpt-x' }] },
      { model: 'flaky-then-backup', targets: [{ provider: 'flaky', model: 'gpt-x' }, { provider: 'backup', model: 'gpt-x' }] },
      { model: 'flaky-only', targets: [{ provider: 'flaky', model: 'gpt-x' }] },
      { model: 'patient-then-backup', targets: [{ provider: 'patient', model: 'gpt-x' }, { provider: 'backup', model: 'gpt-x' }] },
    ],
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await proxy?.close();
  await echo?.close();
});

const ask = (content: string) => [{ role: 'user' as const, content }];

describe('response cache', () => {
  test('a deterministic request is a miss, then a hit with the same answer and usage; a stream replays as a stream', async () => {
    const request = { model: tinyModelId, messages: ask('cache me'), temperature: 0, max_tokens: 8 };
    const first = await client.chat.completions.create(request).withResponse();
    assert.equal(first.response.headers.get('x-llmsvc-cache'), 'miss');
    const second = await client.chat.completions.create(request).withResponse();
    assert.equal(second.response.headers.get('x-llmsvc-cache'), 'hit');
    assert.equal(second.data.choices[0]!.message.content, first.data.choices[0]!.message.content);
    assert.deepEqual(second.data.usage, first.data.usage);

    const streamed = await client.chat.completions.create({ ...request, stream: true }).withResponse();
    assert.equal(streamed.response.headers.get('x-llmsvc-cache'), 'hit', 'stream and non-stream share the entry');
    let text = '';
    let chunks = 0;
    for await (const chunk of streamed.data) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, first.data.choices[0]!.message.content);
    assert.ok(chunks > 2, 'replayed as several chunks');
  });

  test('bypass headers skip the cache; random sampling is never cached; counters say so', async () => {
    const request = { model: tinyModelId, messages: ask('bypass me'), seed: 3, max_tokens: 4 };
    await client.chat.completions.create(request);
    const bypassed = await client.chat.completions.create(request, { headers: { 'x-llmsvc-cache': 'bypass' } }).withResponse();
    assert.equal(bypassed.response.headers.get('x-llmsvc-cache'), 'bypass');
    const noCache = await client.chat.completions.create(request, { headers: { 'cache-control': 'no-cache' } }).withResponse();
    assert.equal(noCache.response.headers.get('x-llmsvc-cache'), 'bypass');
    const random = { model: tinyModelId, messages: ask('random'), temperature: 1, max_tokens: 4 };
    await client.chat.completions.create(random);
    const again = await client.chat.completions.create(random).withResponse();
    assert.equal(again.response.headers.get('x-llmsvc-cache'), 'miss', 'unseeded sampling is not replayed');
    const metrics = await (await authedFetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /llmsvc_cache_requests_total\{result="hit"\} [1-9]/);
    assert.match(metrics, /llmsvc_cache_requests_total\{result="bypass"\} [2-9]/);
  });
});

describe('PII redaction before a cloud target', () => {
  const personal = 'Mail jane.doe@example.com or call +44 20 7946 0958; card 4111 1111 1111 1111, IBAN GB82WEST12345698765432, host 10.1.2.3.';

  test('the cloud sees placeholders; the client gets its own values back, whole and streamed', async () => {
    const before = echo.received.length;
    const reply = await client.chat.completions.create({ model: 'scrubbed', messages: ask(personal) });
    const sent = echo.received[before]!.messages.at(-1)!.content;
    for (const secret of ['jane.doe@example.com', '7946 0958', '4111 1111 1111 1111', 'GB82WEST12345698765432', '10.1.2.3']) {
      assert.ok(!sent.includes(secret), `${secret} must not leave the machine: ${sent}`);
    }
    assert.match(sent, /\[EMAIL_1\].*\[PHONE_1\].*\[CARD_1\].*\[IBAN_1\].*\[IP_1\]/);
    assert.equal(reply.choices[0]!.message.content, personal, 'the echo comes back restored');

    const stream = await client.chat.completions.create({ model: 'scrubbed', messages: ask(personal), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, personal, 'placeholders split across chunks are restored');
  });

  test('a route without redaction sends the text as written', async () => {
    const before = echo.received.length;
    await client.chat.completions.create({ model: 'plain-cloud', messages: ask(personal) });
    assert.equal(echo.received[before]!.messages.at(-1)!.content, personal);
  });

  test('the stream flag is passed on: one JSON answer from the upstream for a non-streaming client, a stream for a streaming one', async () => {
    const before = echo.received.length;
    await client.chat.completions.create({ model: 'plain-cloud', messages: ask('whole') });
    const stream = await client.chat.completions.create({ model: 'plain-cloud', messages: ask('streamed'), stream: true });
    for await (const chunk of stream) void chunk;
    assert.deepEqual(
      echo.received.slice(before).map((body) => body.stream === true),
      [false, true],
    );
  });
});

describe('resilience through the real provider, against a fault-injecting proxy', () => {
  test('a 500 and a 429 with Retry-After are retried, then the answer arrives', async () => {
    proxy.enqueue(faults.status(500), faults.rateLimited({ seconds: 0 }));
    const seen = proxy.requests;
    const reply = await client.chat.completions.create({ model: 'flaky-only', messages: ask('retry me') });
    assert.equal(reply.choices[0]!.message.content, 'retry me');
    assert.equal(proxy.requests - seen, 3, 'two failures, one success');
  });

  test('a stream that goes silent after its first event ends with a clean error, not a hang', async () => {
    proxy.enqueue(faults.silentMid({ sseEvents: 2 }));
    const stream = await client.chat.completions.create({ model: 'flaky-only', messages: ask('go quiet now please'), stream: true });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((caught: unknown) => caught);
    assert.ok(error instanceof OpenAI.APIError, `an APIError, got ${String(error)}`);
    assert.match(String(error.message), /time|idle|answer/i);
    assert.ok(text.length > 0, 'the text before the silence arrived');
  });

  test('a slow first byte times out and falls back to the next target (streamed: first_byte_timeout_ms)', async () => {
    proxy.plan(() => faults.delayFirstByte(3_000));
    try {
      const started = performance.now();
      const stream = await client.chat.completions.create({ model: 'flaky-then-backup', messages: ask('fall back'), stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
      assert.equal(text, 'fall back');
      assert.ok(performance.now() - started < 3_000, 'the backup answered before the slow upstream would have');
    } finally {
      proxy.plan(undefined);
    }
  });

  test('a whole answer is bounded by response_timeout_ms, not first_byte_timeout_ms', async () => {
    // Slower than the first-byte timeout (800 ms) but within the whole-answer one (1,600 ms): served by flaky itself.
    proxy.plan(() => faults.delayFirstByte(1_100));
    const seen = proxy.requests;
    try {
      const reply = await client.chat.completions.create({ model: 'patient-then-backup', messages: ask('take your time') });
      assert.equal(reply.choices[0]!.message.content, 'take your time');
      assert.equal(proxy.requests - seen, 1, 'one attempt, no retry');
      // Slower than the whole-answer timeout: the backup answers.
      proxy.plan(() => faults.delayFirstByte(3_000));
      const started = performance.now();
      const fallback = await client.chat.completions.create({ model: 'patient-then-backup', messages: ask('fall back whole') });
      assert.equal(fallback.choices[0]!.message.content, 'fall back whole');
      assert.ok(performance.now() - started < 3_000, 'the backup answered before the slow upstream would have');
    } finally {
      proxy.plan(undefined);
    }
  });

  // Runs last: the slow-first-byte timeouts above count toward opening this circuit too.
  test('after repeated failures the circuit opens: requests fail fast without reaching the upstream', async () => {
    proxy.plan(() => faults.status(503));
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        await client.chat.completions.create({ model: 'flaky-only', messages: ask('fail') }).catch(() => undefined);
      }
      const seen = proxy.requests;
      const error = await client.chat.completions.create({ model: 'flaky-only', messages: ask('fail fast') }).catch((caught: unknown) => caught);
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'upstream_circuit_open');
      assert.equal(proxy.requests, seen, 'an open circuit sends nothing upstream');
      const fallback = await client.chat.completions.create({ model: 'flaky-then-backup', messages: ask('around the open circuit') });
      assert.equal(fallback.choices[0]!.message.content, 'around the open circuit');
    } finally {
      proxy.plan(undefined);
    }
  });
});

describe('response cache in Redis (--redis-url)', () => {
  const redisUrl = process.env.LLMSVC_TEST_REDIS_URL;
  test('a second server sharing the Redis cache answers from it', { skip: redisUrl ? false : 'LLMSVC_TEST_REDIS_URL is not set (.ci/run starts a redis-server)' }, async () => {
    const servers = [await startTestServer({ cache: true, redis_url: redisUrl }), await startTestServer({ cache: true, redis_url: redisUrl })];
    try {
      const request = { model: tinyModelId, messages: ask(`shared ${Date.now()}`), temperature: 0, max_tokens: 6 };
      const [first, second] = servers.map((server) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 }));
      const miss = await first!.chat.completions.create(request).withResponse();
      assert.equal(miss.response.headers.get('x-llmsvc-cache'), 'miss');
      // The entry is written as the answer ends; give the write a moment to land.
      let hit;
      for (let attempt = 0; attempt < 20; attempt++) {
        hit = await second!.chat.completions.create(request).withResponse();
        if (hit.response.headers.get('x-llmsvc-cache') === 'hit') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(hit!.response.headers.get('x-llmsvc-cache'), 'hit');
      assert.equal(hit!.data.choices[0]!.message.content, miss.data.choices[0]!.message.content);
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});
