import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from '@keyv/redis';
import { Database } from '../core/store/sqlite.js';
import { Registry } from 'prom-client';
import { cacheKey, createResponseCache, type CacheLogger, type ResponseCacheOptions } from '../core/cache/index.js';
import type { ChatRequest, Generation, GenerationEvent } from '../core/providers/types.js';

const events: GenerationEvent[] = [
  { type: 'text', text: 'Hel' },
  { type: 'text', text: 'lo, ' },
  { type: 'text', text: 'world' },
  { type: 'end', finishReason: 'stop', completionTokens: 3 },
];

/** A deterministic request no other test (or earlier run against a shared Redis) has stored. */
const freshRequest = (overrides: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'cloud/gpt',
  maxTokens: 64,
  sampling: { temperature: 0 },
  messages: [{ role: 'user', content: `Say hello (${randomUUID()})` }],
  ...overrides,
});

function generationOf(list: GenerationEvent[], options: { failAfter?: number } = {}): Generation {
  return {
    promptTokens: 7,
    maxTokens: 64,
    events: (async function* () {
      for (const [index, event] of list.entries()) {
        if (index === options.failAfter) throw new Error('upstream failed');
        yield event;
      }
    })(),
  };
}

async function drain(generation: Generation): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const event of generation.events) out.push(event);
  return out;
}

async function counts(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  return Object.fromEntries(values.map(({ labels, value }) => [String(Object.values(labels)[0]), value]));
}

/** Polls `check` (up to ~5 s) until it holds; for effects whose timing the test does not control. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await check()) return true;
    await sleep(100);
  }
  return false;
}

const recordingLogger = () => {
  const lines: { level: string; message: string }[] = [];
  const logger: CacheLogger = {
    warn: (_details, message) => lines.push({ level: 'warn', message }),
    info: (_details, message) => lines.push({ level: 'info', message }),
  };
  return { logger, lines };
};

/** The same behaviour is expected of every store. */
function cacheSuite(storeOptions: () => Pick<ResponseCacheOptions, 'dataDir' | 'redisUrl'>) {
  const open = (extra: Partial<ResponseCacheOptions> = {}) => {
    const registry = new Registry();
    const cache = createResponseCache({ ...storeOptions(), registry, ...extra });
    after(() => cache.dispose());
    return { cache, registry };
  };

  test('a miss, then a hit that replays the same events', async () => {
    const { cache } = open();
    const request = freshRequest();
    assert.equal(await cache.lookup(request), undefined);
    assert.deepEqual(await drain(cache.record(request, generationOf(events))), events, 'recording passes events through');
    await cache.settled();
    const hit = await cache.lookup(request);
    assert.ok(hit, 'the second look-up hits');
    assert.equal(hit.promptTokens, 7);
    assert.equal(hit.maxTokens, 64);
    assert.deepEqual(await drain(hit), events, 'same text chunks, same end event');
  });

  test('a streamed and a non-streamed request share an entry; the caller does not matter', async () => {
    const { cache } = open();
    const streamed = freshRequest({ schedule: { caller: 'key-a', user: 'alice', priority: 'interactive' } });
    await drain(cache.record(streamed, generationOf(events)));
    await cache.settled();
    const nonStreamed: ChatRequest = { ...streamed, schedule: { caller: 'key-b', priority: 'background' }, signal: new AbortController().signal };
    const hit = await cache.lookup(nonStreamed);
    assert.ok(hit, 'the other request hits the same entry');
    const text = (await drain(hit)).map((event) => (event.type === 'text' ? event.text : '')).join('');
    assert.equal(text, 'Hello, world');
  });

  test('a non-deterministic request is not cached unless the route or key opts in', async () => {
    const { cache, registry } = open();
    const request = freshRequest({ sampling: { temperature: 0.7 } });
    const generation = generationOf(events);
    assert.equal(cache.record(request, generation), generation, 'passed through untouched');
    await drain(generation);
    assert.equal(await cache.lookup(request), undefined);

    await drain(cache.record(request, generationOf(events), { cacheNonDeterministic: true }));
    await cache.settled();
    assert.ok(await cache.lookup(request, { cacheNonDeterministic: true }), 'stored when opted in');

    const seeded = freshRequest({ sampling: { temperature: 0.7, seed: 42 } });
    await drain(cache.record(seeded, generationOf(events)));
    await cache.settled();
    assert.ok(await cache.lookup(seeded), 'a seed makes it deterministic');
    assert.equal((await counts(registry, 'llmsvc_cache_requests_total')).uncacheable, 1);
  });

  test('an entry expires after its TTL', async () => {
    const { cache } = open({ ttlMs: 60_000 });
    const request = freshRequest();
    const ttlMs = 500;
    const storedBefore = Date.now();
    await drain(cache.record(request, generationOf(events), { ttlMs }));
    await cache.settled();
    const fresh = await cache.lookup(request);
    // Only a look-up that finished within the TTL must hit (a loaded machine may be slower).
    if (Date.now() - storedBefore < ttlMs) assert.ok(fresh, 'served while fresh');
    await sleep(ttlMs);
    assert.equal(await eventually(async () => (await cache.lookup(request)) === undefined), true, 'gone after its TTL');
  });

  test('failed, abandoned and aborted generations are not stored', async () => {
    const { cache } = open();
    const failed = freshRequest();
    await assert.rejects(drain(cache.record(failed, generationOf(events, { failAfter: 2 }))), /upstream failed/);

    const abandoned = freshRequest();
    for await (const _event of cache.record(abandoned, generationOf(events)).events) break;

    const controller = new AbortController();
    const aborted = freshRequest({ signal: controller.signal });
    const recorded = cache.record(aborted, generationOf(events));
    for await (const event of recorded.events) if (event.type === 'text') controller.abort();

    await cache.settled();
    for (const request of [failed, abandoned, aborted]) assert.equal(await cache.lookup(request), undefined);
  });

  test('bypass neither reads nor writes', async () => {
    const { cache } = open();
    const request = freshRequest();
    await drain(cache.record(request, generationOf(events), { bypass: true }));
    await cache.settled();
    assert.equal(await cache.lookup(request), undefined, 'a bypassed answer was not stored');
    await drain(cache.record(request, generationOf(events)));
    await cache.settled();
    assert.equal(await cache.lookup(request, { bypass: true }), undefined, 'a bypass does not read');
    assert.ok(await cache.lookup(request), 'a normal look-up hits');
  });

  test('hit, miss and bypass are counted', async () => {
    const { cache, registry } = open();
    assert.deepEqual(await counts(registry, 'llmsvc_cache_requests_total'), { hit: 0, miss: 0, bypass: 0, uncacheable: 0 });
    const request = freshRequest();
    await cache.lookup(request);
    await drain(cache.record(request, generationOf(events)));
    await cache.settled();
    await cache.lookup(request);
    await cache.lookup(request);
    await cache.lookup(request, { bypass: true });
    assert.deepEqual(await counts(registry, 'llmsvc_cache_requests_total'), { hit: 2, miss: 1, bypass: 1, uncacheable: 0 });
  });

  test('scopes and routed model ids partition the cache', async () => {
    const { cache } = open();
    const request = freshRequest();
    await drain(cache.record(request, generationOf(events), { scope: 'tenant-a', model: 'openai/gpt-4o' }));
    await cache.settled();
    assert.ok(await cache.lookup({ ...request, model: 'alias' }, { scope: 'tenant-a', model: 'openai/gpt-4o' }), 'same scope, same routed model');
    assert.equal(await cache.lookup(request, { scope: 'tenant-b', model: 'openai/gpt-4o' }), undefined);
    assert.equal(await cache.lookup(request, { scope: 'tenant-a' }), undefined);
  });

  test('a disposed cache refuses new work', async () => {
    const { cache } = open();
    await cache.dispose();
    await assert.rejects(cache.lookup(freshRequest()), /disposed/);
  });
}

describe('cache key', () => {
  const base: ChatRequest = {
    model: 'm',
    maxTokens: 10,
    sampling: { temperature: 0, stop: ['b', 'a'] },
    messages: [{ role: 'user', content: 'hi' }],
    tools: [{ name: 'f', parameters: { type: 'object', properties: { x: { type: 'string' } } } }],
  };

  test('key order, defaults, the caller and the signal do not change it', () => {
    const reordered: ChatRequest = {
      messages: [{ content: 'hi', role: 'user' }],
      sampling: { stop: ['a', 'b', 'a'], frequencyPenalty: 0, presencePenalty: 0, topP: 1, temperature: 0 },
      tools: [{ parameters: { properties: { x: { type: 'string' } }, type: 'object' }, name: 'f' }],
      toolChoice: 'auto',
      responseFormat: { type: 'text' },
      maxTokens: 10,
      model: 'm',
      schedule: { caller: 'k', user: 'u', priority: 'interactive' },
      signal: new AbortController().signal,
    };
    assert.equal(cacheKey(reordered), cacheKey(base));
    assert.match(cacheKey(base), /^[0-9a-f]{64}$/);
  });

  test('everything that shapes the answer changes it', () => {
    const variants: ChatRequest[] = [
      { ...base, model: 'other' },
      { ...base, maxTokens: 11 },
      { ...base, sampling: { ...base.sampling, seed: 1 } },
      { ...base, sampling: { ...base.sampling, topP: 0.9 } },
      { ...base, sampling: { ...base.sampling, logitBias: { 42: 100 } } },
      { ...base, sampling: { ...base.sampling, logitBias: { 42: -100 } } },
      { ...base, messages: [{ role: 'user', content: 'hi!' }] },
      { ...base, messages: [{ role: 'system', content: 'hi' }] },
      { ...base, tools: [] },
      { ...base, toolChoice: 'required' },
      { ...base, responseFormat: { type: 'json_object' } },
    ];
    const keys = new Set([cacheKey(base), ...variants.map((variant) => cacheKey(variant))]);
    assert.equal(keys.size, variants.length + 1);
    assert.notEqual(cacheKey(base, { model: 'routed' }), cacheKey(base));
    assert.notEqual(cacheKey(base, { scope: 'tenant' }), cacheKey(base));
  });
});

describe('response cache on SQLite', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'llmsvc-cache-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  cacheSuite(() => ({ dataDir }));

  test('entries survive a restart, and expired ones are swept from the file', async () => {
    const ownDir = mkdtempSync(path.join(tmpdir(), 'llmsvc-cache-'));
    after(() => rmSync(ownDir, { recursive: true, force: true }));
    const request = freshRequest();
    const first = createResponseCache({ dataDir: ownDir, registry: new Registry() });
    await drain(first.record(request, generationOf(events)));
    await drain(first.record(freshRequest(), generationOf(events), { ttlMs: 1 }));
    await first.dispose();
    await sleep(5);
    const second = createResponseCache({ dataDir: ownDir, registry: new Registry() });
    try {
      await second.settled(); // the sweep at start-up
      const file = new Database(path.join(ownDir, 'cache.sqlite'), { readonly: true });
      const { rows } = file.prepare('SELECT count(*) AS rows FROM response_cache').get() as { rows: number };
      file.close();
      assert.equal(rows, 1, 'the expired entry was deleted');
      assert.ok(await second.lookup(request), 'read back from <data_dir>/cache.sqlite');
    } finally {
      await second.dispose();
    }
  });
});

test('a cache never used leaves no file: nothing opens SQLite until the first entry', async () => {
  const ownDir = mkdtempSync(path.join(tmpdir(), 'llmsvc-cache-'));
  after(() => rmSync(ownDir, { recursive: true, force: true }));
  const cache = createResponseCache({ dataDir: ownDir, registry: new Registry() });
  try {
    await cache.settled();
    assert.equal(existsSync(path.join(ownDir, 'cache.sqlite')), false, 'the start-up sweep opened the file');
    assert.equal(await cache.lookup(freshRequest()), undefined);
    await drain(cache.record(freshRequest(), generationOf(events)));
    await cache.settled();
    assert.equal(existsSync(path.join(ownDir, 'cache.sqlite')), true);
  } finally {
    await cache.dispose();
  }
});

const redisUrl = process.env.LLMSVC_TEST_REDIS_URL;
describe('response cache on Redis', { skip: redisUrl ? false : 'LLMSVC_TEST_REDIS_URL is not set (.ci/run starts a redis-server and sets it)' }, () => {
  cacheSuite(() => ({ dataDir: '/nonexistent', redisUrl }));

  test('a connection the server closed is replaced: the cache serves again', async () => {
    const cache = createResponseCache({ dataDir: '/nonexistent', redisUrl, registry: new Registry(), retryAfterMs: 0 });
    const admin = createClient({ url: redisUrl });
    try {
      await admin.connect();
      const request = freshRequest();
      await drain(cache.record(request, generationOf(events)));
      await cache.settled();
      const clients = String(await admin.sendCommand(['CLIENT', 'LIST']));
      const ids = [...clients.matchAll(/^id=(\d+) .*\bname=llmsvc-cache\b/gm)].map((match) => match[1]!);
      assert.ok(ids.length > 0, 'the cache names its connection');
      for (const id of ids) await admin.sendCommand(['CLIENT', 'KILL', 'ID', id]);
      // The first look-up may still go to the dead socket (a miss); the cache must then reconnect.
      assert.equal(await eventually(async () => (await cache.lookup(request)) !== undefined), true, 'served again');
    } finally {
      await admin.close();
      await cache.dispose();
    }
  });
});

describe('a Redis outage', () => {
  test('look-ups miss and answers pass through; requests do not fail; one warning per outage', async () => {
    const registry = new Registry();
    const { logger, lines } = recordingLogger();
    // Port 1 on loopback: nothing listens there, so every connection is refused at once.
    const cache = createResponseCache({ dataDir: '/nonexistent', redisUrl: 'redis://127.0.0.1:1', registry, logger, retryAfterMs: 0 });
    try {
      const request = freshRequest();
      assert.equal(await cache.lookup(request), undefined);
      assert.deepEqual(await drain(cache.record(request, generationOf(events))), events);
      await cache.settled();
      assert.equal(await cache.lookup(request), undefined);
      assert.deepEqual(await counts(registry, 'llmsvc_cache_requests_total'), { hit: 0, miss: 2, bypass: 0, uncacheable: 0 });
      assert.deepEqual(await counts(registry, 'llmsvc_cache_errors_total'), { get: 2, set: 1 });
      assert.deepEqual(lines.map((line) => line.level), ['warn'], 'logged once, not per request');
    } finally {
      await cache.dispose();
    }
  });

  test('during the retry pause the store is not even tried', async () => {
    const registry = new Registry();
    const cache = createResponseCache({ dataDir: '/nonexistent', redisUrl: 'redis://127.0.0.1:1', registry, retryAfterMs: 60_000 });
    try {
      await cache.lookup(freshRequest());
      await cache.lookup(freshRequest());
      assert.deepEqual(await counts(registry, 'llmsvc_cache_errors_total'), { get: 1 });
      assert.equal((await counts(registry, 'llmsvc_cache_requests_total')).miss, 2);
    } finally {
      await cache.dispose();
    }
  });
});
