import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import Fastify from 'fastify';
import OpenAI from 'openai';
import { ApiError } from '../core/errors/index.js';
import { installRequestContext } from '../core/server/requestContext.js';
import { openMessageStream } from '../core/server/routes/anthropic/messageStream.js';
import { waitFor } from './support/wait.js';
import { startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

let server: TestServer;
let client: Anthropic;

before(async () => {
  server = await startTestServer({ context_size: 512 });
  client = new Anthropic({ baseURL: server.url, apiKey: testAdminKey, maxRetries: 0 });
});
after(() => server.stop());

const user = (content: string) => ({ role: 'user' as const, content });
const textOf = (message: Anthropic.Message) => message.content.map((block) => (block.type === 'text' ? block.text : '')).join('');

/** A POST as the Anthropic SDK sends it (x-api-key, anthropic-version), unless headers say otherwise. */
function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': testAdminKey, 'anthropic-version': '2023-06-01', ...headers },
    body: JSON.stringify(body),
  });
}

/** The `event:` names and parsed `data:` payloads of an SSE body. */
async function sseEvents(response: Response): Promise<{ name: string; data: any }[]> {
  const frames = (await response.text()).split('\n\n').filter((frame) => frame.trim());
  return frames.map((frame) => {
    const [eventLine, dataLine] = frame.split('\n');
    assert.match(eventLine!, /^event: /, 'every frame names its event');
    return { name: eventLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
  });
}

/** There is no Anthropic OpenAPI file here: check the exact top-level keys and their types. */
function assertMessageShape(body: any, expect: { content: 'text' | 'empty'; ended: boolean }) {
  assert.deepEqual(Object.keys(body).sort(), ['content', 'id', 'model', 'role', 'stop_reason', 'stop_sequence', 'type', 'usage']);
  assert.match(body.id, /^msg_[A-Za-z0-9]{24}$/);
  assert.equal(body.type, 'message');
  assert.equal(body.role, 'assistant');
  assert.equal(typeof body.model, 'string');
  assert.ok(Array.isArray(body.content));
  if (expect.content === 'empty') assert.deepEqual(body.content, []);
  else {
    assert.equal(body.content.length, 1);
    assert.deepEqual(Object.keys(body.content[0]).sort(), ['text', 'type']);
    assert.equal(body.content[0].type, 'text');
    assert.equal(typeof body.content[0].text, 'string');
  }
  if (expect.ended) assert.ok(['end_turn', 'max_tokens', 'stop_sequence'].includes(body.stop_reason));
  else assert.equal(body.stop_reason, null);
  assert.ok(body.stop_sequence === null || typeof body.stop_sequence === 'string');
  assert.deepEqual(Object.keys(body.usage).sort(), ['input_tokens', 'output_tokens']);
  assert.ok(Number.isInteger(body.usage.input_tokens) && Number.isInteger(body.usage.output_tokens));
}

function assertErrorShape(body: any, type: string) {
  assert.deepEqual(Object.keys(body).sort(), ['error', 'type']);
  assert.equal(body.type, 'error');
  assert.deepEqual(Object.keys(body.error).sort(), ['message', 'type']);
  assert.equal(body.error.type, type);
}

async function assertSdkError(promise: Promise<unknown>, errorClass: typeof Anthropic.APIError, type: string, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    assert.equal((error as any).error?.error?.type, type, 'Anthropic error shape');
    if (message) assert.match((error as any).error.error.message, message);
    return true;
  });
}

describe('messages', () => {
  test('non-streaming: exact usage, max_tokens stop, input_tokens equal count_tokens, exact shape', async () => {
    const params = { model: tinyModelId, max_tokens: 8, temperature: 0, messages: [user('Say something.')] };
    const message = await client.messages.create(params);
    assert.equal(message.stop_reason, 'max_tokens');
    assert.equal(message.stop_sequence, null);
    assert.equal(message.usage.output_tokens, 8, 'output_tokens = max_tokens when stopped by max_tokens');
    assert.equal(message.model, tinyModelId);
    assert.ok(textOf(message).length > 0);
    const counted = await client.messages.countTokens({ model: tinyModelId, messages: params.messages });
    assert.deepEqual(Object.keys(counted), ['input_tokens']);
    assert.equal(counted.input_tokens, message.usage.input_tokens);
    const raw = await post('/v1/messages', params);
    assert.equal(raw.status, 200);
    const body = (await raw.json()) as any;
    assertMessageShape(body, { content: 'text', ended: true });
    assert.equal(body.content[0].text, textOf(message), 'temperature 0 is greedy: the same answer');
  });

  test('system prompt (string or text blocks) and a multi-turn conversation', async () => {
    const messages = [user('Hello there.'), { role: 'assistant' as const, content: 'Hi. How can I help?' }, user('Tell me more.')];
    const base = { model: tinyModelId, max_tokens: 6, temperature: 0, messages };
    const withSystem = await client.messages.create({ ...base, system: 'You are terse.' });
    const withBlocks = await client.messages.create({
      ...base,
      system: [
        { type: 'text', text: 'You are ' },
        { type: 'text', text: 'terse.', cache_control: { type: 'ephemeral' } },
      ],
    });
    const withoutSystem = await client.messages.create(base);
    assert.equal(withBlocks.usage.input_tokens, withSystem.usage.input_tokens, 'text blocks read as their concatenation');
    assert.equal(textOf(withBlocks), textOf(withSystem));
    assert.ok(withSystem.usage.input_tokens > withoutSystem.usage.input_tokens, 'the system prompt is part of the prompt');
    const lastTurnOnly = await client.messages.countTokens({ model: tinyModelId, messages: [user('Tell me more.')] });
    assert.ok(withoutSystem.usage.input_tokens > lastTurnOnly.input_tokens, 'earlier turns are part of the prompt');
    const counted = await client.messages.countTokens({ model: tinyModelId, system: 'You are terse.', messages });
    assert.equal(counted.input_tokens, withSystem.usage.input_tokens);
    // Content as text blocks reads as the plain string.
    const blockContent = await client.messages.countTokens({
      model: tinyModelId,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Tell me ' }, { type: 'text', text: 'more.' }] }],
    });
    assert.equal(blockContent.input_tokens, lastTurnOnly.input_tokens);
  });

  test('a trailing assistant message is continued (prefill), as the OpenAI route does', async () => {
    const messages = [user('Pick a letter.'), { role: 'assistant' as const, content: 'The letter is' }];
    const message = await client.messages.create({ model: tinyModelId, max_tokens: 6, temperature: 0, messages });
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: tinyModelId, max_tokens: 6, temperature: 0, messages });
    assert.equal(textOf(message), completion.choices[0]!.message.content);
    assert.equal(message.usage.input_tokens, completion.usage!.prompt_tokens);
    const unfilled = await client.messages.countTokens({ model: tinyModelId, messages: [user('Pick a letter.')] });
    assert.ok(message.usage.input_tokens > unfilled.input_tokens, 'the prefill is part of the prompt');
  });

  test('top_k is honoured (top_k 1 is greedy at any temperature); metadata.user_id is accepted', async () => {
    const params = { model: tinyModelId, max_tokens: 12, messages: [user('Vary this.')] };
    const greedy = await client.messages.create({ ...params, temperature: 0 });
    const topOne = await client.messages.create({ ...params, temperature: 1, top_k: 1, top_p: 1, metadata: { user_id: 'alice' } });
    assert.equal(textOf(topOne), textOf(greedy));
  });

  test('stop_sequences: stop_reason stop_sequence, the matched sequence, the text cut before it', async () => {
    const params = { model: tinyModelId, max_tokens: 20, temperature: 0, messages: [user('x')] };
    const probe = textOf(await client.messages.create(params));
    const stop = probe.slice(4, 7);
    assert.ok(stop.trim().length > 0, `the probe produced text to stop at: ${JSON.stringify(probe)}`);
    const stopped = await client.messages.create({ ...params, stop_sequences: ['never-in-gibberish-§§', stop] });
    assert.equal(stopped.stop_reason, 'stop_sequence');
    assert.equal(stopped.stop_sequence, stop);
    assert.equal(textOf(stopped), probe.slice(0, probe.indexOf(stop)));
    assert.ok(stopped.usage.output_tokens < 20);
    // Streamed, message_delta says the same.
    const events = await sseEvents(await post('/v1/messages', { ...params, stop_sequences: [stop], stream: true }));
    const delta = events.find((event) => event.name === 'message_delta')!.data;
    assert.deepEqual(delta.delta, { stop_reason: 'stop_sequence', stop_sequence: stop });
    assert.equal(delta.usage.output_tokens, stopped.usage.output_tokens);
  });
});

describe('streaming', () => {
  const params = { model: tinyModelId, max_tokens: 10, temperature: 0, messages: [user('Stream please.')] };

  test('the event sequence, each event typed as named, deltas adding up to the non-streamed text', async () => {
    const whole = await client.messages.create(params);
    const response = await post('/v1/messages', { ...params, stream: true });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = await sseEvents(response);
    for (const event of events) assert.equal(event.data.type, event.name, 'data.type repeats the event name');
    const names = events.map((event) => event.name);
    assert.deepEqual(names.slice(0, 3), ['message_start', 'content_block_start', 'ping']);
    assert.deepEqual(names.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(names.slice(3, -3).every((name) => name === 'content_block_delta'));
    const start = events[0]!.data;
    assertMessageShape(start.message, { content: 'empty', ended: false });
    assert.deepEqual(start.message.usage, { input_tokens: whole.usage.input_tokens, output_tokens: 0 });
    assert.deepEqual(events[1]!.data, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const deltas = events.filter((event) => event.name === 'content_block_delta').map((event) => event.data);
    for (const delta of deltas) assert.deepEqual(Object.keys(delta.delta).sort(), ['text', 'type']);
    assert.equal(deltas.map((delta) => delta.delta.text).join(''), textOf(whole));
    assert.deepEqual(events.at(-2)!.data, { type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { input_tokens: whole.usage.input_tokens, output_tokens: 10 } });
    assert.deepEqual(events.at(-3)!.data, { type: 'content_block_stop', index: 0 });
  });

  test('through the SDK: messages.stream() and finalMessage(), create({stream: true})', async () => {
    const whole = await client.messages.create(params);
    const stream = client.messages.stream(params);
    let streamed = '';
    stream.on('text', (text) => (streamed += text));
    const final = await stream.finalMessage();
    assert.equal(streamed, textOf(whole));
    assert.equal(textOf(final), textOf(whole));
    assert.equal(final.stop_reason, 'max_tokens');
    assert.deepEqual(final.usage, { input_tokens: whole.usage.input_tokens, output_tokens: 10 });
    assert.match(final.id, /^msg_/);

    const raw = await client.messages.create({ ...params, stream: true });
    const types: string[] = [];
    let text = '';
    for await (const event of raw) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') assert.equal(event.usage.output_tokens, 10);
    }
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.equal(text, textOf(whole));
  });

  test('a failure after the stream opened ends it with an error event the SDK raises', async () => {
    // A stand-in route that fails mid-stream; a real generation rarely does on demand.
    const app = Fastify();
    installRequestContext(app, new AbortController().signal);
    app.post('/v1/messages', async (request, reply) => {
      const stream = openMessageStream(request, reply, { id: 'msg_test', model: 'm' });
      await stream.run(async () => {
        stream.start(3);
        stream.text('partial');
        throw new ApiError('LLMSVC_ERR_INSUFFICIENT_MEMORY', 'Out of memory mid-generation. Retry with a smaller context.');
      });
      return reply;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const failing = new Anthropic({ baseURL: url, apiKey: 'unused', maxRetries: 0 });
      const stream = await failing.messages.create({ ...params, stream: true });
      let text = '';
      await assert.rejects(
        (async () => {
          for await (const event of stream) if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
        })(),
        (error: unknown) => {
          assert.ok(error instanceof Anthropic.APIError, String(error));
          assert.equal((error as any).error.error.type, 'overloaded_error');
          return true;
        },
      );
      assert.equal(text, 'partial');
      const events = await sseEvents(await fetch(`${url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }));
      assert.equal(events.at(-1)!.name, 'error');
      assertErrorShape(events.at(-1)!.data, 'overloaded_error');
    } finally {
      await app.close();
    }
  });
});

describe('errors', () => {
  test('an unknown model is a 404 not_found_error, streaming or not, and for count_tokens', async () => {
    const params = { model: 'no-such-model', max_tokens: 5, messages: [user('hi')] };
    await assertSdkError(client.messages.create(params), Anthropic.NotFoundError, 'not_found_error');
    await assertSdkError(client.messages.create({ ...params, stream: true }), Anthropic.NotFoundError, 'not_found_error');
    await assertSdkError(client.messages.countTokens({ model: 'no-such-model', messages: [user('hi')] }), Anthropic.NotFoundError, 'not_found_error');
  });

  test('bad fields are a 400 invalid_request_error naming the field', async () => {
    const base = { model: tinyModelId, max_tokens: 5, messages: [user('hi')] };
    const bad = (body: object, message: RegExp) => assertSdkError(client.messages.create(body as any), Anthropic.BadRequestError, 'invalid_request_error', message);
    await bad({ model: tinyModelId, messages: [user('hi')] }, /max_tokens/);
    await bad({ ...base, frobnicate: true }, /frobnicate/);
    await bad({ ...base, temperature: 1.5 }, /temperature/);
    // A value of the wrong type is invalid, not missing (zod leaves the input off its issues unless asked).
    await bad({ ...base, temperature: 'hot' }, /Invalid value for 'temperature'/);
    await bad({ ...base, messages: [{ role: 'user', content: 5 }] }, /Invalid value for 'messages\[0\]\.content'/);
    await bad({ ...base, max_tokens: 0 }, /max_tokens/);
    await bad({ ...base, messages: [] }, /messages/);
    await bad({ ...base, messages: [{ role: 'system', content: 'x' }] }, /messages\[0\]\.role/);
    await bad({ ...base, stop_sequences: [''] }, /stop_sequences\[0\]/);
    await bad({ ...base, metadata: { user_id: 'u', plan: 'x' } }, /plan/);
    await assertSdkError(
      client.messages.countTokens({ ...base } as any),
      Anthropic.BadRequestError,
      'invalid_request_error',
      /max_tokens/, // count_tokens takes no max_tokens
    );
  });

  test('misplaced tool blocks, server tools, images and extended thinking are refused with a clear 400', async () => {
    const base = { model: tinyModelId, max_tokens: 5, messages: [user('hi')] };
    const refused = (body: object, message: RegExp) => assertSdkError(client.messages.create(body as any), Anthropic.BadRequestError, 'invalid_request_error', message);
    await refused({ ...base, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, /server tools .* are not supported/);
    await refused({ ...base, tool_choice: { type: 'any' } }, /tool_choice of type 'any' needs tools/);
    await refused({ ...base, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: {} }] }] }, /tool_use blocks belong in assistant messages/);
    await refused(
      { ...base, messages: [user('hi'), { role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }] }] },
      /tool_result blocks belong in user messages/,
    );
    await refused({ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBO' } }] }] }, /images are not supported/);
    await refused({ ...base, thinking: { type: 'enabled', budget_tokens: 1024 } }, /thinking is not supported/);
  });

  test('count_tokens counts the tools the template documents', async () => {
    const tool = { name: 'get_weather', description: 'Weather', input_schema: { type: 'object' as const, properties: {} } };
    const params = { model: tinyModelId, messages: [user('hi')] };
    const without = await client.messages.countTokens(params);
    const withTools = await client.messages.countTokens({ ...params, tools: [tool] });
    assert.ok(withTools.input_tokens > without.input_tokens);
    const none = await client.messages.countTokens({ ...params, tools: [tool], tool_choice: { type: 'none' } });
    assert.equal(none.input_tokens, without.input_tokens, 'tool_choice none offers no tools');
  });

  test('a wrong key is an AuthenticationError', async () => {
    const wrong = new Anthropic({ baseURL: server.url, apiKey: 'sk-llmsvc-wrong-key-for-messages', maxRetries: 0 });
    await assertSdkError(wrong.messages.create({ model: tinyModelId, max_tokens: 5, messages: [user('hi')] }), Anthropic.AuthenticationError, 'authentication_error');
  });

  test('a prompt longer than the context is a 400 that says the prompt is too long, never truncated', async () => {
    const long = 'word '.repeat(2000);
    await assertSdkError(client.messages.create({ model: tinyModelId, max_tokens: 5, messages: [user(long)] }), Anthropic.BadRequestError, 'invalid_request_error', /prompt is too long/);
    await assertSdkError(client.messages.create({ model: tinyModelId, max_tokens: 5, messages: [user(long)], stream: true }), Anthropic.BadRequestError, 'invalid_request_error');
    // Fits alone, but not with max_tokens: the same 400.
    await assertSdkError(client.messages.create({ model: tinyModelId, max_tokens: 600, messages: [user('hi')] }), Anthropic.BadRequestError, 'invalid_request_error', /max_tokens/);
    // count_tokens counts whatever its length.
    assert.ok((await client.messages.countTokens({ model: tinyModelId, messages: [user(long)] })).input_tokens > 512);
  });

  test("errors have Anthropic's shape on these routes, with or without anthropic-version", async () => {
    for (const headers of [{}, { 'anthropic-version': '' }]) {
      const missing = await post('/v1/messages', { model: tinyModelId, messages: [user('hi')] }, headers);
      assert.equal(missing.status, 400);
      assertErrorShape(await missing.json(), 'invalid_request_error');
    }
    const invalidJson = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': testAdminKey }, body: '{"model": ' });
    assert.equal(invalidJson.status, 400);
    assertErrorShape(await invalidJson.json(), 'invalid_request_error');
  });
});

describe('operations', () => {
  test('anthropic-version is optional; x-api-key and Bearer keys both work', async () => {
    const body = { model: tinyModelId, max_tokens: 2, messages: [user('hi')] };
    const withoutVersion = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': testAdminKey }, body: JSON.stringify(body) });
    assert.equal(withoutVersion.status, 200);
    assertMessageShape(await withoutVersion.json(), { content: 'text', ended: true });
    const bearer = await post('/v1/messages', body, { 'x-api-key': '', authorization: `Bearer ${testAdminKey}`, 'anthropic-version': '2099-01-01' });
    assert.equal(bearer.status, 200);
  });

  test('the request log and usage account messages as the OpenAI routes do; count_tokens costs no tokens', async () => {
    const params = { model: tinyModelId, max_tokens: 4, temperature: 0, messages: [user('account me')] };
    const plain = await client.messages.create(params, { headers: { 'x-request-id': 'anthropic-log-1' } });
    const stream = client.messages.stream(params, { headers: { 'x-request-id': 'anthropic-log-2' } });
    await stream.finalMessage();
    await client.messages.countTokens({ model: tinyModelId, messages: params.messages }, { headers: { 'x-request-id': 'anthropic-log-3' } });
    const rowOf = async (id: string) => (await server.service.store.requestLog.recent(500)).find((entry) => entry.id === id);
    assert.ok(await waitFor(async () => (await Promise.all(['anthropic-log-1', 'anthropic-log-2', 'anthropic-log-3'].map(rowOf))).every(Boolean)));
    for (const [id, stream] of [['anthropic-log-1', false], ['anthropic-log-2', true]] as const) {
      const row = (await rowOf(id))!;
      assert.equal(row.route, '/v1/messages');
      assert.equal(row.status, 200);
      assert.equal(row.model, tinyModelId);
      assert.equal(row.stream, stream);
      assert.equal(row.promptTokens, plain.usage.input_tokens);
      assert.equal(row.completionTokens, 4);
      assert.ok(row.ttftMs! > 0 && row.ttftMs! <= row.latencyMs);
    }
    const counted = (await rowOf('anthropic-log-3'))!;
    assert.equal(counted.route, '/v1/messages/count_tokens');
    assert.equal(counted.model, tinyModelId);
    assert.ok(!counted.promptTokens && !counted.completionTokens, 'counting generates nothing');
  });
});
