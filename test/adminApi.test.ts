import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Fastify from 'fastify';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI, { toFile } from 'openai';
import { LiveStats } from '../core/server/liveStats.js';
import { installOpenApi } from '../core/server/openapi.js';
import { ingestionJobKind } from '../core/rag/index.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

// The live admin API (/admin/v1/stats, stats/stream, models, requests, jobs) and the OpenAPI
// document, against a real server on port 0 after real traffic.

let server: TestServer;
let client: OpenAI;

before(async () => {
  server = await startTestServer({ context_size: 512 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { authorization: `Bearer sk-llmsvc-test-admin-key-0123456789` } });
});
after(() => server.stop());

async function getJson(path: string, key?: string): Promise<any> {
  const response = await authedFetch(`${server.url}${path}`, {}, key);
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return response.json();
}

async function post(path: string): Promise<Response> {
  return authedFetch(`${server.url}${path}`, { method: 'POST' });
}

const chat = (seed: number) => client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed, temperature: 0 });

describe('GET /admin/v1/stats', () => {
  test('the figures move with traffic: requests, tokens, errors, TTFT and the loaded model', async () => {
    const before = await getJson('/admin/v1/stats');
    assert.equal(before.object, 'stats');
    assert.match(before.version, /^\d+\.\d+\.\d+/);
    assert.ok(before.uptime_s >= 0);
    assert.equal(before.totals.requests_per_s, 0);
    assert.equal(before.totals.cache_hit_rate, null, 'no lookups yet: null');
    const tinyBefore = before.models.find((model: any) => model.id === tinyModelId);
    assert.ok(tinyBefore, 'the tiny model is listed');
    assert.equal(tinyBefore.kind, 'gguf');

    const stream = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 3, stream: true });
    for await (const _chunk of stream);
    await chat(1);
    await chat(2);
    const notFound = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).catch((error) => error);
    assert.equal(notFound.status, 404);

    let stats: any;
    assert.ok(
      await waitFor(async () => {
        stats = await getJson('/admin/v1/stats');
        return stats.totals.requests_per_s > 0 && stats.models.find((model: any) => model.id === tinyModelId)?.state === 'loaded';
      }),
      JSON.stringify(stats),
    );
    assert.ok(stats.totals.errors_per_s['4xx'] > 0, '4xx counted');
    assert.equal(stats.totals.errors_per_s['5xx'], 0);
    assert.ok(stats.totals.prompt_tokens_per_s > 0);
    assert.ok(stats.totals.completion_tokens_per_s > 0);
    assert.equal(stats.totals.series.requests.length, 60);
    assert.equal(stats.totals.series.requests.reduce((a: number, b: number) => a + b, 0), 4, 'four API requests this minute (admin calls do not count)');
    const tiny = stats.models.find((model: any) => model.id === tinyModelId);
    assert.equal(tiny.backend, 'cpu');
    assert.ok(tiny.parallel >= 1);
    assert.equal(tiny.active, 0);
    assert.deepEqual(tiny.queued, { interactive: 0, background: 0 });
    assert.ok(tiny.decode_tps > 0);
    assert.ok(tiny.ttft_ms && tiny.ttft_ms.p50 > 0 && tiny.ttft_ms.p95 >= tiny.ttft_ms.p50, JSON.stringify(tiny.ttft_ms));
    assert.ok(tiny.memory_bytes > 0, 'node-llama-cpp memory figure');
    assert.deepEqual(stats.upstreams, []);
    assert.ok(Array.isArray(stats.jobs));
  });

  test('a key without admin scope gets a 403 on every admin route', async () => {
    const created = await (
      await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'user' }) })
    ).json();
    for (const path of ['/admin/v1/stats', '/admin/v1/stats/stream', '/admin/v1/models', '/admin/v1/requests', '/admin/v1/jobs']) {
      const response = await authedFetch(`${server.url}${path}`, {}, created.key);
      assert.equal(response.status, 403, path);
      assert.equal(((await response.json()) as any).error.code, 'insufficient_scope');
    }
    assert.equal((await authedFetch(`${server.url}/admin/v1/models/${tinyModelId}/unload`, { method: 'POST' }, created.key)).status, 403);
  });
});

describe('GET /admin/v1/stats/stream', () => {
  test('sends a snapshot at once and then about every second', async () => {
    const controller = new AbortController();
    const response = await authedFetch(`${server.url}/admin/v1/stats/stream`, { signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type')!, /^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const started = Date.now();
    let text = '';
    const times: number[] = [];
    while (times.length < 2) {
      const { value, done } = await reader.read();
      assert.ok(!done);
      text += value;
      const events = text.split('\n\n').filter((block) => block.startsWith('event: stats\ndata: '));
      while (times.length < events.length) times.push(Date.now() - started);
    }
    controller.abort();
    const first = JSON.parse(text.split('\n\n')[0]!.slice('event: stats\ndata: '.length));
    assert.equal(first.object, 'stats');
    assert.ok(times[0]! < 500, `first event at once (${times[0]} ms)`);
    assert.ok(times[1]! <= 2500, `second within about a second (${times[1]} ms)`);
  });
});

describe('models', () => {
  test('unload and load change the state in /models and /stats; an unknown model is a 404', async () => {
    const list = await getJson('/admin/v1/models');
    assert.equal(list.object, 'list');
    const tiny = list.data.find((model: any) => model.id === tinyModelId);
    assert.equal(tiny.file, `${tinyModelId}.gguf`, 'file name, never a path');
    assert.ok(tiny.size_bytes > 0);

    const unloaded = await post(`/admin/v1/models/${tinyModelId}/unload`);
    assert.equal(unloaded.status, 200);
    const unloadedInfo = (await unloaded.json()) as any;
    assert.equal(unloadedInfo.state, 'unloaded');
    assert.equal(unloadedInfo.memory_bytes, null);
    assert.equal(unloadedInfo.backend, null);
    const statsAfterUnload = await getJson('/admin/v1/stats');
    assert.equal(statsAfterUnload.models.find((model: any) => model.id === tinyModelId).state, 'unloaded');

    const loaded = await post(`/admin/v1/models/${tinyModelId}/load`);
    assert.equal(loaded.status, 200);
    const loadedInfo = (await loaded.json()) as any;
    assert.equal(loadedInfo.state, 'loaded');
    assert.ok(loadedInfo.memory_bytes > 0);
    assert.equal((await getJson('/admin/v1/models')).data.find((model: any) => model.id === tinyModelId).state, 'loaded');

    const missing = await post('/admin/v1/models/no-such-model/load');
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 'model_not_found');
  });
});

describe('GET /admin/v1/requests', () => {
  test('newest first, filtered by status (exact and class), model, key and since, with a cursor', async () => {
    const since = Date.now();
    for (let seed = 10; seed < 15; seed++) await chat(seed);
    await client.chat.completions.create({ model: 'missing-model', messages: [{ role: 'user', content: 'hi' }] }).catch(() => {});

    const page = await getJson(`/admin/v1/requests?since=${since}&limit=2`);
    assert.equal(page.object, 'list');
    assert.equal(page.data.length, 2);
    assert.equal(page.has_more, true);
    assert.ok(page.last_id);
    assert.equal(page.data[0].status, 404, 'newest first: the failed request');
    assert.equal(page.data[0].error_code, 'LLMSVC_ERR_MODEL_NOT_FOUND');
    assert.ok(page.data[0].created_at >= page.data[1].created_at);
    const row = page.data[1];
    for (const field of ['id', 'created_at', 'route', 'method', 'model', 'key_id', 'status', 'prompt_tokens', 'completion_tokens', 'latency_ms', 'ttft_ms', 'stream', 'error_code']) {
      assert.ok(field in row, field);
    }
    assert.equal(row.route, '/v1/chat/completions');
    assert.equal(row.model, tinyModelId);

    // Follow the cursor to the end: six rows, no repeats.
    const ids = page.data.map((entry: any) => entry.id);
    let cursor = page.last_id;
    for (;;) {
      const next = await getJson(`/admin/v1/requests?since=${since}&limit=2&after=${cursor}`);
      ids.push(...next.data.map((entry: any) => entry.id));
      if (!next.has_more) break;
      cursor = next.last_id;
    }
    assert.equal(ids.length, 6);
    assert.equal(new Set(ids).size, 6);

    const failures = await getJson(`/admin/v1/requests?since=${since}&status=4xx`);
    assert.deepEqual(failures.data.map((entry: any) => entry.status), [404]);
    assert.equal((await getJson(`/admin/v1/requests?since=${since}&status=200`)).data.length, 5);
    assert.equal((await getJson(`/admin/v1/requests?since=${since}&status=5xx`)).data.length, 0);
    assert.equal((await getJson(`/admin/v1/requests?since=${since}&model=${tinyModelId}`)).data.length, 5);
    const keyId = row.key_id;
    assert.ok(keyId);
    assert.equal((await getJson(`/admin/v1/requests?since=${since}&key_id=${keyId}`)).data.length, 6);
    assert.equal((await getJson(`/admin/v1/requests?since=${since}&key_id=key_nobody`)).data.length, 0);
  });

  test('a bad filter is a 400 that names it', async () => {
    for (const [query, param] of [
      ['status=6xx', 'status'],
      ['limit=0', 'limit'],
      ['limit=500', 'limit'],
      ['after=abc', 'after'],
      ['colour=red', 'colour'],
    ]) {
      const response = await authedFetch(`${server.url}/admin/v1/requests?${query}`);
      assert.equal(response.status, 400, query);
      assert.equal(((await response.json()) as any).error.param, param, query);
    }
  });
});

describe('jobs', () => {
  test('an ingestion shows in /jobs (newest first) and in /stats while unfinished; it cannot be cancelled', async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from('Alpacas hum when they are content.'), 'alpacas.txt'), purpose: 'assistants' });
    const store = await client.vectorStores.create({ name: 'admin-api', file_ids: [file.id] });
    let jobs: any;
    assert.ok(await waitFor(async () => (jobs = await getJson('/admin/v1/jobs')).data.length > 0));
    const job = jobs.data[0];
    assert.equal(job.kind, ingestionJobKind);
    for (const field of ['id', 'kind', 'state', 'progress_done', 'progress_total', 'error', 'created_at', 'updated_at']) assert.ok(field in job, field);
    assert.ok(['queued', 'running', 'done', 'failed'].includes(job.state));
    assert.ok(await waitFor(async () => (await getJson('/admin/v1/jobs')).data[0].state === 'done', 30_000), 'the ingestion finishes');

    const cancel = await post(`/admin/v1/jobs/${job.id}/cancel`);
    assert.equal(cancel.status, 400);
    const error = ((await cancel.json()) as any).error;
    assert.equal(error.code, 'job_not_cancellable');
    assert.match(error.message, /cannot be cancelled/);
    const missing = await post('/admin/v1/jobs/job_nope/cancel');
    assert.equal(missing.status, 404);
    await client.vectorStores.delete(store.id);
  });

  test('a batch shows in /jobs beside ingestions and in /stats while running, with its progress; /jobs/{id}/cancel cancels it', async () => {
    // A key allowed three requests a minute (upload, create, one line): the batch's first line
    // runs, the next ones wait for the window (the key's batch pauses), so the batch stays in
    // progress at 1 of 3 until cancelled. The admin client reads it back.
    const slow = await server.service.keys.create({ name: 'admin-api-batch', scope: 'user', models: [tinyModelId], rpm: 3, cache: false, expires_at: null });
    const slowClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: slow.secret, maxRetries: 0 });
    const lines = [1, 2, 3].map((seed) => JSON.stringify({ custom_id: `line-${seed}`, method: 'POST', url: '/v1/chat/completions', body: { model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, seed } }));
    const input = await slowClient.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'batch.jsonl'), purpose: 'batch' });
    const batch = await slowClient.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });

    let job: any;
    assert.ok(
      await waitFor(async () => {
        job = (await getJson('/admin/v1/jobs')).data.find((entry: any) => entry.id === batch.id);
        return job?.progress_done === 1;
      }, 30_000),
      `the batch's first line runs (${JSON.stringify(job)})`,
    );
    assert.deepEqual(
      { kind: job.kind, state: job.state, total: job.progress_total, api: job.api, output_file_id: job.output_file_id, created_at: job.created_at },
      { kind: 'batch', state: 'in_progress', total: 3, api: 'openai', output_file_id: null, created_at: batch.created_at * 1000 },
    );
    const jobs = (await getJson('/admin/v1/jobs')).data;
    assert.ok(jobs.some((entry: any) => entry.kind === ingestionJobKind), 'ingestions are listed beside batches');
    assert.deepEqual(jobs.map((entry: any) => entry.created_at), jobs.map((entry: any) => entry.created_at).sort((a: number, b: number) => b - a), 'newest first');
    assert.ok(
      await waitFor(async () => (await getJson('/admin/v1/stats')).jobs.some((entry: any) => entry.id === batch.id && entry.kind === 'batch' && entry.progress_total === 3)),
      'the running batch is in the stats snapshot',
    );

    const cancel = await post(`/admin/v1/jobs/${batch.id}/cancel`);
    assert.equal(cancel.status, 200);
    assert.ok(['cancelling', 'cancelled'].includes(((await cancel.json()) as any).state));
    // The same cancel as POST /v1/batches/{id}/cancel: the batch ends cancelled, its pending lines canceled.
    let ended = await client.batches.retrieve(batch.id);
    assert.ok(await waitFor(async () => (ended = await client.batches.retrieve(batch.id)).status === 'cancelled', 30_000), ended.status);
    assert.equal(ended.request_counts!.completed, 1, 'the line that ran keeps its result; the others never ran');
    assert.ok(ended.output_file_id);
    const listed = (await getJson('/admin/v1/jobs')).data.find((entry: any) => entry.id === batch.id);
    assert.deepEqual({ state: listed.state, output_file_id: listed.output_file_id, error_file_id: listed.error_file_id }, { state: 'cancelled', output_file_id: ended.output_file_id, error_file_id: ended.error_file_id });
    assert.ok(await waitFor(async () => !(await getJson('/admin/v1/stats')).jobs.some((entry: any) => entry.id === batch.id)), 'an ended batch leaves the stats');
    // Cancelling an ended batch changes nothing (as for a finished ingestion's job).
    const again = await post(`/admin/v1/jobs/${batch.id}/cancel`);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as any).state, 'cancelled');
  });
});

describe('jobs: Anthropic batches', () => {
  test('an Anthropic message batch is listed with api anthropic and, once ended, the results_url a UI downloads', async () => {
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: testAdminKey, maxRetries: 0 });
    // Seeded as the Anthropic batch tests seed (metadata.user_id).
    const params = (seed: number) => ({ model: tinyModelId, max_tokens: 4, temperature: 0, metadata: { user_id: `seed-${seed}` }, messages: [{ role: 'user' as const, content: 'hi' }] });
    const created = await anthropic.messages.batches.create({ requests: [1, 2].map((seed) => ({ custom_id: `a-${seed}`, params: params(seed) })) });
    let job: any;
    assert.ok(await waitFor(async () => (job = (await getJson('/admin/v1/jobs')).data.find((entry: any) => entry.id === created.id))?.state === 'completed', 30_000), JSON.stringify(job));
    assert.deepEqual(
      { kind: job.kind, api: job.api, done: job.progress_done, total: job.progress_total, output_file_id: job.output_file_id, results_url: job.results_url },
      { kind: 'batch', api: 'anthropic', done: 2, total: 2, output_file_id: null, results_url: `/v1/messages/batches/${created.id}/results` },
    );
    const results = await authedFetch(`${server.url}${job.results_url}`);
    assert.equal(results.status, 200);
    assert.deepEqual((await results.text()).trim().split('\n').map((line) => JSON.parse(line).custom_id), ['a-1', 'a-2']);
  });
});

describe('OpenAPI', () => {
  test('/openapi.json is an OpenAPI 3.1 document that lists every route group, with compilable schemas', async () => {
    const doc = await getJson('/openapi.json');
    assert.match(doc.openapi, /^3\.1\.\d+$/);
    assert.equal(doc.info.title, 'llmsvc');
    const structure = new Ajv2020({ strict: false }).compile({
      type: 'object',
      required: ['openapi', 'info', 'paths'],
      properties: {
        info: { type: 'object', required: ['title', 'version'] },
        paths: {
          type: 'object',
          propertyNames: { pattern: '^/' },
          additionalProperties: {
            type: 'object',
            propertyNames: { enum: ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'parameters', 'summary', 'description', 'servers'] },
            additionalProperties: { type: 'object', required: ['responses'] },
          },
        },
      },
    });
    assert.ok(structure(doc), JSON.stringify(structure.errors));
    for (const [path, methods] of [
      ['/v1/chat/completions', ['post']],
      ['/v1/completions', ['post']],
      ['/v1/embeddings', ['post']],
      ['/v1/models', ['get']],
      ['/v1/messages', ['post']],
      ['/v1/messages/count_tokens', ['post']],
      ['/v1/files', ['get', 'post']],
      ['/v1/vector_stores', ['get', 'post']],
      ['/v1/vector_stores/{id}/search', ['post']],
      ['/admin/v1/keys', ['get', 'post']],
      ['/admin/v1/keys/{id}', ['get', 'patch', 'delete']],
      ['/admin/v1/stats', ['get']],
      ['/admin/v1/stats/stream', ['get']],
      ['/admin/v1/models/{id}/load', ['post']],
      ['/admin/v1/requests', ['get']],
      ['/admin/v1/jobs', ['get']],
      ['/healthz', ['get']],
    ] as const) {
      for (const method of methods) assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
    }
    assert.equal(doc.paths['/docs'], undefined, 'the docs pages are not API routes');
    const chatBody = doc.paths['/v1/chat/completions'].post.requestBody.content['application/json'].schema;
    assert.ok(chatBody.properties.messages, 'the chat schema comes from the zod schema');
    const statusParam = doc.paths['/admin/v1/requests'].get.parameters.find((parameter: any) => parameter.name === 'status');
    assert.equal(statusParam.in, 'query');
    // Every schema in the document is valid JSON Schema 2020-12.
    const ajv = new Ajv2020({ strict: false });
    let schemas = 0;
    for (const operations of Object.values<any>(doc.paths)) {
      for (const op of Object.values<any>(operations)) {
        for (const parameter of op.parameters ?? []) ajv.compile(parameter.schema), schemas++;
        for (const media of Object.values<any>(op.requestBody?.content ?? {})) ajv.compile(media.schema), schemas++;
      }
    }
    assert.ok(schemas > 20, `${schemas} schemas compiled`);
  });

  test('/docs serves swagger-ui from this server, with no external URL; both need a key', async () => {
    const page = await authedFetch(`${server.url}/docs`);
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /swagger/i);
    const urls = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    assert.ok(urls.length > 0);
    for (const url of urls) assert.ok(!/^(https?:)?\/\//.test(url), `local asset: ${url}`);
    for (const url of urls) {
      const asset = await authedFetch(new URL(url, `${server.url}/docs/`).href);
      assert.equal(asset.status, 200, url);
      await asset.arrayBuffer();
    }
    const initializer = await (await authedFetch(`${server.url}/docs/static/swagger-initializer.js`)).text();
    assert.doesNotMatch(initializer, /validator\.swagger\.io/);
    for (const path of ['/openapi.json', '/docs']) {
      const anonymous = await fetch(`${server.url}${path}`);
      assert.equal(anonymous.status, 401, path);
      await anonymous.arrayBuffer();
    }
  });

  test('a route added later without docs (Responses, batches) still appears, with a generic operation', async () => {
    const app = Fastify();
    installOpenApi(app, '0.0.0');
    app.post('/v1/responses', async () => ({}));
    app.get('/admin/v1/batches/:id', async () => ({}));
    await app.ready();
    const doc = app.swagger() as any;
    assert.deepEqual(doc.paths['/v1/responses'].post.tags, ['openai']);
    assert.ok(doc.paths['/v1/responses'].post.requestBody, 'a generic JSON body');
    assert.deepEqual(doc.paths['/admin/v1/batches/{id}'].get.tags, ['admin']);
    await app.close();
  });
});

describe('LiveStats (the rolling one-minute windows)', () => {
  test('rates over the window, cache hit rate, TTFT percentiles within a bin; cached answers are not decode speed; a minute later all is gone', () => {
    let now = Date.UTC(2026, 11, 4, 12, 0, 0);
    const live = new LiveStats(() => now);
    for (let i = 0; i < 30; i++) {
      now += 1000;
      live.record({ status: 200, model: 'm', promptTokens: 10, completionTokens: 20, ttftMs: i < 27 ? 100 : 1000, cacheStatus: 'miss' });
    }
    live.record({ status: 200, model: 'm', promptTokens: 10, completionTokens: 20, cacheStatus: 'hit' });
    live.record({ status: 503, model: 'm' });
    live.record({ status: 429 });
    const totals = live.totals();
    assert.equal(totals.cache_hit_rate, Math.round((1 / 31) * 10_000) / 10_000);
    assert.equal(totals.requests_per_s, Math.round((33 / 31) * 100) / 100, 'over the 31 s since start, not a whole minute');
    assert.equal(totals.series.requests.reduce((a, b) => a + b, 0), 33);
    assert.equal(totals.series.requests.at(-1), 4, 'the current second is last');
    const model = live.model('m');
    assert.equal(model.decode_tps, Math.round(((30 * 20) / 31) * 100) / 100, 'the cached answer is not decoding');
    assert.ok(model.ttft_ms && Math.abs(model.ttft_ms.p50 - 100) / 100 < 0.13, JSON.stringify(model.ttft_ms));
    assert.ok(Math.abs(model.ttft_ms!.p95 - 1000) / 1000 < 0.13, JSON.stringify(model.ttft_ms));
    now += 61_000;
    assert.equal(live.totals().requests_per_s, 0);
    assert.equal(live.totals().cache_hit_rate, null);
    assert.equal(live.model('m').ttft_ms, null);
  });
});
