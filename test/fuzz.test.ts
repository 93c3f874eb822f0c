import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import OpenAI, { toFile } from 'openai';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// A seeded, bounded fuzz of every route that takes a body (POST, PUT, PATCH), enumerated from the
// fastify instance itself, so routes added later are fuzzed too. Bodies: mutations of a valid body
// (a field dropped, replaced by a wrong type, a huge number, deep nesting, unicode; a field added),
// arbitrary JSON, and raw text that is not JSON. No answer may be a 5xx, every refusal must say
// what is wrong, and the server must be alive and answering afterwards.
//
// Bounded: generations run on the tiny model in a 256-token context, so even a body whose
// max_tokens was dropped or made huge ends within 256 tokens (or is refused); a route this file
// does not know gets a model that does not exist.

const seed = Number(process.env.LLMSVC_FUZZ_SEED ?? 20261204);
const bodiesPerRoute = Number(process.env.LLMSVC_FUZZ_BODIES ?? 160);
const concurrency = 8;

let server: TestServer;
/** Ids of real objects, so that routes with path parameters are reached past the 404. */
const ids: Record<string, string> = {};

before(async () => {
  server = await startTestServer({ context_size: 256, auth_failure_limit: 100_000 });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const file = await client.files.create({ file: await toFile(Buffer.from('The quokka lives on Rottnest Island.'), 'quokka.txt'), purpose: 'assistants' });
  const store = await client.vectorStores.create({ name: 'fuzz', file_ids: [file.id], embedding_model: tinyModelId } as OpenAI.VectorStoreCreateParams);
  const key = (await (await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'fuzzed' }) })).json()) as { id: string };
  Object.assign(ids, { file: file.id, store: store.id, key: key.id });
});
after(() => server?.stop());

interface Route {
  method: string;
  url: string;
}

/** The routes of the running server, read from fastify's own route tree (printRoutes). */
function routesWithBodies(): Route[] {
  const tree = server.service.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    for (const method of (match[3] ?? '').split(', ')) {
      if (['POST', 'PUT', 'PATCH'].includes(method)) routes.push({ method, url: stack.join('') });
    }
  }
  return routes;
}

const chatMessages = [{ role: 'user', content: 'Hello' }];
/** A valid body per known route; others get one that names a model that does not exist. */
function validBody(route: Route): Record<string, unknown> {
  const bodies: Record<string, Record<string, unknown>> = {
    'POST /v1/chat/completions': { model: tinyModelId, messages: chatMessages, max_tokens: 4, seed: 1, temperature: 0.5, stream: false, n: 1, stop: ['x'], retrieval: { vector_store_ids: [ids.store], max_num_results: 2 } },
    'POST /v1/completions': { model: tinyModelId, prompt: 'Hello', max_tokens: 4, seed: 1, echo: false, logit_bias: { '5': 1 } },
    'POST /v1/embeddings': { model: tinyModelId, input: ['Hello', 'world'], encoding_format: 'float' },
    'POST /v1/messages': { model: tinyModelId, max_tokens: 4, messages: chatMessages, system: 'Be brief.', temperature: 0.5, top_k: 5, stop_sequences: ['x'] },
    'POST /v1/messages/count_tokens': { model: tinyModelId, messages: chatMessages, system: 'Be brief.' },
    'POST /v1/files': { purpose: 'assistants', file: 'not multipart' },
    'POST /v1/vector_stores': { name: 'fuzzed', embedding_model: tinyModelId, metadata: { a: 'b' } },
    'POST /v1/vector_stores/:id': { name: 'renamed', metadata: { a: 'c' } },
    'POST /v1/vector_stores/:id/files': { file_id: ids.file, attributes: { topic: 'animals' }, chunking_strategy: { type: 'static', static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 10 } } },
    'POST /v1/vector_stores/:id/files/:file_id': { attributes: { topic: 'quokkas', score: 3, ok: true } },
    'POST /v1/vector_stores/:id/search': { query: 'quokka', max_num_results: 3, filters: { type: 'eq', key: 'topic', value: 'animals' }, ranking_options: { ranker: 'auto', score_threshold: 0 } },
    'POST /admin/v1/keys': { name: 'fuzz', rpm: 100, models: ['*'], daily_tokens: 1000 },
    'PATCH /admin/v1/keys/:id': { name: 'fuzz2', rpm: null, disabled: false },
    'POST /admin/v1/keys/:id/rotate': {},
  };
  return bodies[`${route.method} ${route.url}`] ?? { model: 'fuzz-no-such-model', messages: chatMessages, input: 'Hello', max_tokens: 4, max_output_tokens: 4 };
}

/** Path parameters: mostly the id of a real object (to reach the handler past its 404), else anything. */
function concreteUrl(route: Route): fc.Arbitrary<string> {
  const names = [...route.url.matchAll(/:(\w+)/g)].map((match) => match[1]!);
  if (names.length === 0) return fc.constant(route.url);
  const realId = (name: string) => (route.url.startsWith('/admin/') ? ids.key : name === 'file_id' ? ids.file : ids.store) ?? 'x';
  const anything = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'grapheme', maxLength: 10 }));
  return fc.tuple(...names.map((name) => fc.oneof({ weight: 4, arbitrary: fc.constant(realId(name)) }, { weight: 1, arbitrary: anything }))).map((values) => {
    let index = 0;
    return route.url.replace(/:(\w+)/g, () => encodeURIComponent(values[index++]!) || 'x');
  });
}

/** Values that break parsers and validators. */
const nasty: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 2 ** 64, 1e-320, 0, -1, 0.5, 4096, 1e9),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom([], {}, [[]], [{}], ['x'], { type: 'text' }, { role: 'user' }),
  fc.constantFrom('😀'.repeat(500), '\u0000', '\uD800', '%s%n', '{{', '__proto__', 'constructor', '<|im_start|>', '</s>', ' '.repeat(300)),
  fc.integer({ min: 100, max: 3000 }).map((depth) => nested(depth)),
  fc.jsonValue({ maxDepth: 3 }),
);

function nested(depth: number): unknown {
  let value: unknown = 'deep';
  for (let index = 0; index < depth; index++) value = index % 2 ? [value] : { a: value };
  return value;
}

/** Every path into a value: ['messages'], ['messages', 0], ['messages', 0, 'content'], … */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value) ? value.map((item, index) => [index, item] as const) : Object.entries(value);
  return entries.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

function withChange(body: Record<string, unknown>, path: (string | number)[], change: (parent: any, key: string | number) => void): Record<string, unknown> {
  const copy = structuredClone(body);
  let parent: any = copy;
  for (const key of path.slice(0, -1)) parent = parent[key];
  change(parent, path.at(-1)!);
  return copy;
}

interface FuzzCase {
  url: string;
  /** The raw body and its content type. */
  payload: string;
  contentType: string;
}


function cases(route: Route): fc.Arbitrary<FuzzCase> {
  const valid = validBody(route);
  // A body with no fields (rotate) gets fields added instead.
  const paths = pathsOf(valid).length ? pathsOf(valid) : [['unknown_field']];
  const json = (body: fc.Arbitrary<unknown>) => body.map((value) => ({ payload: JSON.stringify(value) ?? 'null', contentType: 'application/json' }));
  const mutated = fc.oneof(
    // A field replaced by something else.
    json(fc.tuple(fc.constantFrom(...paths), nasty).map(([path, value]) => withChange(valid, path, (parent, key) => (parent[key] = value)))),
    // A field dropped.
    json(fc.constantFrom(...paths).map((path) => withChange(valid, path, (parent, key) => (Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key])))),
    // A field added, known to other routes or unknown.
    json(fc.tuple(fc.constantFrom('stream', 'n', 'max_tokens', 'tools', 'tool_choice', 'response_format', 'logprobs', 'user', 'unknown_field', '__proto__'), nasty).map(([key, value]) => ({ ...valid, [key]: value }))),
    // Streaming, with the rest mutated too.
    json(fc.tuple(fc.constantFrom(...paths), nasty).map(([path, value]) => ({ ...withChange(valid, path, (parent, key) => (parent[key] = value)), stream: true }))),
    // Anything at all.
    json(fc.jsonValue({ maxDepth: 4 })),
    // Not JSON, or not sent as JSON.
    fc.record({
      payload: fc.oneof(fc.constantFrom('', '{', '{"model":', 'null', '[]', '"x"', '{"a":1}{"b":2}', '\u0000\u0001', '{"model": NaN}'), fc.string({ maxLength: 60 })),
      contentType: fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/octet-stream'),
    }),
  );
  return fc
    .record({ url: concreteUrl(route), body: mutated })
    .map(({ url, body }) => ({ url, ...body }));
}

async function send(route: Route, fuzzCase: FuzzCase): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.url}${fuzzCase.url}`, {
    method: route.method,
    headers: { authorization: `Bearer ${testAdminKey}`, 'content-type': fuzzCase.contentType },
    body: fuzzCase.payload,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, text: await response.text() };
}

/** A refusal names what is wrong: OpenAI's {error: {message}} or Anthropic's {type: 'error', error: {message}}. */
function hasErrorSentence(text: string): boolean {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    return typeof body.error?.message === 'string' && body.error.message.length > 10;
  } catch {
    return false;
  }
}

test(`every route with a body survives ${bodiesPerRoute} fuzzed bodies each (seed ${seed}): no 5xx, every refusal says why, the server still answers`, async (t) => {
  const routes = routesWithBodies();
  for (const expected of ['POST /v1/chat/completions', 'POST /v1/messages', 'POST /v1/vector_stores/:id/search', 'PATCH /admin/v1/keys/:id']) {
    assert.ok(routes.some((route) => `${route.method} ${route.url}` === expected), `${expected} is enumerated from the server`);
  }
  const work = routes.flatMap((route, index) => fc.sample(cases(route), { seed: seed + index, numRuns: bodiesPerRoute }).map((fuzzCase) => ({ route, fuzzCase })));
  const failures: string[] = [];
  const statuses = new Map<number, number>();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < work.length) {
        const { route, fuzzCase } = work[next++]!;
        const { status, text } = await send(route, fuzzCase);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const problem = status >= 500 ? 'a 5xx' : status >= 400 && !hasErrorSentence(text) ? 'a refusal without an error sentence' : undefined;
        if (problem) failures.push(`${problem}: ${route.method} ${fuzzCase.url} (${fuzzCase.contentType}) ${fuzzCase.payload.slice(0, 300)}\n  → ${status} ${text.slice(0, 300)}`);
      }
    }),
  );
  const summary = [...statuses].sort(([a], [b]) => a - b).map(([status, count]) => `${status}×${count}`).join(' ');
  t.diagnostic(`${work.length} bodies over ${routes.length} routes; statuses: ${summary}`);
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${work.length} bodies failed (statuses: ${summary})`);
  assert.ok(work.length >= routes.length * bodiesPerRoute, `every route got its bodies (${work.length})`);

  // Alive, and still answering requests that need the model.
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const completion = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'still there?' }], max_tokens: 3, seed: 1 });
  assert.equal(completion.usage?.completion_tokens, 3);
});
