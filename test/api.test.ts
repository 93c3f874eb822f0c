import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getLlama, type LlamaModel } from 'node-llama-cpp';
import OpenAI from 'openai';
import { isJsonPrefix } from './support/jsonPrefix.js';
import { waitFor } from './support/wait.js';
import { schemaErrors } from './support/openapi.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, tinyModelPath, type TestServer } from './support/server.js';

let server: TestServer;
let client: OpenAI;

before(async () => {
  server = await startTestServer({ context_size: 512 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(() => server.stop());

async function postJson(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await authedFetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
}

/** The `data:` payloads of an SSE body, parsed, without the final [DONE]. */
async function sseEvents(path: string, body: unknown): Promise<{ events: any[]; sawDone: boolean; contentType: string | null }> {
  const response = await authedFetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await response.text();
  const payloads = text.split('\n\n').filter((frame) => frame.startsWith('data: ')).map((frame) => frame.slice(6));
  return {
    events: payloads.filter((p) => p !== '[DONE]').map((p) => JSON.parse(p)),
    sawDone: payloads.at(-1) === '[DONE]',
    contentType: response.headers.get('content-type'),
  };
}

function assertSchema(name: string, data: unknown) {
  assert.deepEqual(schemaErrors(name, data), [], `${name} must validate against OpenAI's schema`);
}

async function assertApiError(promise: Promise<unknown>, expected: { status: number; code?: string; param?: string | null; type?: string }) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpenAI.APIError, `expected an APIError, got ${String(error)}`);
    assert.equal(error.status, expected.status);
    if (expected.code !== undefined) assert.equal(error.code, expected.code);
    if (expected.param !== undefined) assert.equal(error.param, expected.param);
    assert.equal(error.type, expected.type ?? 'invalid_request_error');
    assert.ok(error.message.length > 20, 'the message says what to do');
    return true;
  });
}

describe('models', () => {
  test('list and retrieve through the SDK, schema-valid', async () => {
    const page = await client.models.list();
    assert.deepEqual(page.data.map((m) => m.id), [tinyModelId]);
    const model = await client.models.retrieve(tinyModelId);
    assert.equal(model.id, tinyModelId);
    assert.equal(model.object, 'model');
    const raw = await (await authedFetch(`${server.url}/v1/models`)).json();
    assertSchema('ListModelsResponse', raw);
    assertSchema('Model', await (await authedFetch(`${server.url}/v1/models/${tinyModelId}`)).json());
  });

  test('an unknown model is a 404 model_not_found', async () => {
    await assertApiError(client.models.retrieve('no-such-model'), { status: 404, code: 'model_not_found', param: 'model' });
  });
});

describe('chat completions', () => {
  test('non-streaming: exact usage, finish_reason length at max_tokens, schema-valid', async () => {
    const completion = await client.chat.completions.create({
      model: tinyModelId,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Say something.' },
      ],
      max_tokens: 12,
      seed: 7,
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0]!.finish_reason, 'length');
    assert.equal(completion.usage!.completion_tokens, 12);
    assert.ok(completion.usage!.prompt_tokens > 5);
    assert.equal(completion.usage!.total_tokens, completion.usage!.prompt_tokens + 12);
    assert.ok(completion.choices[0]!.message.content!.length > 0);
    const raw = await postJson('/v1/chat/completions', { model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 });
    assert.equal(raw.status, 200);
    assertSchema('CreateChatCompletionResponse', raw.body);
  });

  test('the same seed gives the same answer; max_completion_tokens is honoured', async () => {
    const ask = () =>
      client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'Hello' }], max_completion_tokens: 10, seed: 42, temperature: 0.9 });
    const [a, b] = [await ask(), await ask()];
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
    assert.equal(a.usage!.completion_tokens, 10);
  });

  test('streaming through the SDK: chunks add up to the text, include_usage reports exact usage', async () => {
    const stream = await client.chat.completions.create({
      model: tinyModelId,
      messages: [{ role: 'user', content: 'Stream please' }],
      max_tokens: 9,
      seed: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      assert.equal(chunk.object, 'chat.completion.chunk');
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finish = choice.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(finish, 'length');
    assert.equal(usage?.completion_tokens, 9);
    const whole = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'Stream please' }], max_tokens: 9, seed: 3 });
    assert.equal(text, whole.choices[0]!.message.content, 'streamed and non-streamed text agree for the same seed');
    assert.equal(usage?.prompt_tokens, whole.usage!.prompt_tokens);
  });

  test('every stream chunk is schema-valid and the stream ends with [DONE]', async () => {
    const { events, sawDone, contentType } = await sseEvents('/v1/chat/completions', {
      model: tinyModelId,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
      seed: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    assert.match(contentType ?? '', /text\/event-stream/);
    assert.ok(sawDone);
    assert.ok(events.length >= 3);
    for (const event of events) assertSchema('CreateChatCompletionStreamResponse', event);
    assert.equal(events[0].choices[0].delta.role, 'assistant');
    assert.deepEqual(events.at(-1).choices, []);
    assert.equal(events.at(-1).usage.completion_tokens, 5);
  });

  test('a stop sequence ends generation with finish_reason stop and is not returned', async () => {
    const probe = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 20, seed: 11 });
    const text = probe.choices[0]!.message.content!;
    const stop = text.slice(4, 7);
    assert.ok(stop.trim().length > 0, 'the probe produced text to stop at');
    const stopped = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 20, seed: 11, stop });
    assert.equal(stopped.choices[0]!.finish_reason, 'stop');
    assert.equal(stopped.choices[0]!.message.content, text.slice(0, text.indexOf(stop)));
    assert.ok(!stopped.choices[0]!.message.content!.includes(stop));
  });

  test('n = 2 returns two choices; usage counts the prompt once', async () => {
    const completion = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'two' }], max_tokens: 6, n: 2, seed: 5 });
    assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
    assert.notEqual(completion.choices[0]!.message.content, completion.choices[1]!.message.content);
    assert.equal(completion.usage!.completion_tokens, 12);
    const single = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'two' }], max_tokens: 6, seed: 5 });
    assert.equal(completion.usage!.prompt_tokens, single.usage!.prompt_tokens);
  });

  test('response_format json_schema: the output parses and validates', async () => {
    const schema = {
      type: 'object',
      properties: { answer: { type: 'boolean' }, level: { type: 'string', enum: ['low', 'high'] } },
      required: ['answer', 'level'],
      additionalProperties: false,
    };
    for (const seed of [1, 2, 3]) {
      const completion = await client.chat.completions.create({
        model: tinyModelId,
        messages: [{ role: 'user', content: 'Answer in JSON' }],
        max_tokens: 60,
        seed,
        response_format: { type: 'json_schema', json_schema: { name: 'verdict', schema, strict: true } },
      });
      assert.equal(completion.choices[0]!.finish_reason, 'stop');
      const parsed = JSON.parse(completion.choices[0]!.message.content!);
      assert.equal(typeof parsed.answer, 'boolean');
      assert.ok(['low', 'high'].includes(parsed.level));
      assert.deepEqual(Object.keys(parsed).sort(), ['answer', 'level']);
    }
  });

  test('response_format json_object: the output is JSON, or the start of it when max_tokens cut it short', async () => {
    // Sanity of the prefix check itself.
    assert.ok(isJsonPrefix('{"a": "xy') && isJsonPrefix('{"a": [1, tr') && isJsonPrefix('{"a": 1, "b'));
    assert.ok(!isJsonPrefix('{ "x" }') && !isJsonPrefix('{"a":: 1') && !isJsonPrefix('hello {'));
    for (const seed of [4, 5]) {
      const completion = await client.chat.completions.create({
        model: tinyModelId,
        messages: [{ role: 'user', content: 'JSON please' }],
        max_tokens: 60,
        seed,
        response_format: { type: 'json_object' },
      });
      const content = completion.choices[0]!.message.content!;
      assert.match(content.trimStart(), /^\{/, 'a JSON object');
      if (completion.choices[0]!.finish_reason === 'stop') assert.doesNotThrow(() => JSON.parse(content));
      else assert.ok(isJsonPrefix(content), `grammar-constrained output must be valid JSON so far: ${content}`);
    }
    // Without the grammar, the random model's text is not JSON.
    const free = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'JSON please' }], max_tokens: 20, seed: 4 });
    assert.ok(!isJsonPrefix(free.choices[0]!.message.content!));
  });
});

describe('legacy completions', () => {
  test('non-streaming: default max_tokens 16, echo, several prompts, schema-valid', async () => {
    const completion = await client.completions.create({ model: tinyModelId, prompt: 'Once upon a time', seed: 1 });
    assert.equal(completion.object, 'text_completion');
    assert.equal(completion.usage!.completion_tokens, 16);
    assert.equal(completion.choices[0]!.finish_reason, 'length');
    const echoed = await client.completions.create({ model: tinyModelId, prompt: 'Echo me', echo: true, max_tokens: 3, seed: 1 });
    assert.ok(echoed.choices[0]!.text.startsWith('Echo me'));
    const several = await client.completions.create({ model: tinyModelId, prompt: ['one', 'two'], max_tokens: 2, seed: 1 });
    assert.deepEqual(several.choices.map((c) => c.index), [0, 1]);
    assert.equal(several.usage!.completion_tokens, 4);
    const raw = await postJson('/v1/completions', { model: tinyModelId, prompt: [1, 2, 3], max_tokens: 2 });
    assert.equal(raw.status, 200);
    assertSchema('CreateCompletionResponse', raw.body);
  });

  test('streaming through the SDK and schema-valid chunks', async () => {
    const stream = await client.completions.create({ model: tinyModelId, prompt: 'Stream', max_tokens: 7, seed: 7, stream: true, stream_options: { include_usage: true } });
    let usage: OpenAI.CompletionUsage | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) finish = choice.finish_reason ?? finish;
    }
    assert.equal(usage?.completion_tokens, 7);
    assert.equal(finish, 'length');
    const { events, sawDone } = await sseEvents('/v1/completions', { model: tinyModelId, prompt: 'x', max_tokens: 3, stream: true });
    assert.ok(sawDone);
    // OpenAI's spec types finish_reason as a string, but its API (and every SDK's end-of-stream
    // check) sends null on all chunks but the last; llmsvc does as the API does. The rest of each
    // chunk is checked against the schema.
    for (const event of events.slice(0, -1)) {
      assert.equal(event.choices[0].finish_reason, null);
      assertSchema('CreateCompletionResponse', { ...event, choices: [{ ...event.choices[0], finish_reason: 'length' }] });
    }
    assertSchema('CreateCompletionResponse', events.at(-1));
  });
});

describe('embeddings', () => {
  test('string and array input; the SDK default (base64) and float agree; schema-valid', async () => {
    const viaSdk = await client.embeddings.create({ model: tinyModelId, input: ['first text', 'second text'] });
    assert.equal(viaSdk.data.length, 2);
    assert.equal(viaSdk.data[0]!.embedding.length, 8, 'the tiny model embeds in 8 dimensions');
    assert.ok(viaSdk.usage.prompt_tokens > 0);
    const asFloat = await client.embeddings.create({ model: tinyModelId, input: ['first text', 'second text'], encoding_format: 'float' });
    for (const [i, item] of asFloat.data.entries()) {
      item.embedding.forEach((value, j) => assert.ok(Math.abs(value - viaSdk.data[i]!.embedding[j]!) < 1e-6));
    }
    const single = await client.embeddings.create({ model: tinyModelId, input: 'first text', encoding_format: 'float' });
    assert.deepEqual(single.data[0]!.embedding, asFloat.data[0]!.embedding);
    const raw = await postJson('/v1/embeddings', { model: tinyModelId, input: 'hello', encoding_format: 'float' });
    assertSchema('CreateEmbeddingResponse', raw.body);
    // The spec only describes float arrays; base64 is the little-endian float32 bytes, as OpenAI sends.
    const rawBase64 = await postJson('/v1/embeddings', { model: tinyModelId, input: 'hello', encoding_format: 'base64' });
    const bytes = Buffer.from(rawBase64.body.data[0].embedding, 'base64');
    assert.deepEqual([...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)], raw.body.data[0].embedding);
  });

  test('bad embedding input is a 400 naming the param', async () => {
    await assertApiError(client.embeddings.create({ model: tinyModelId, input: '' }), { status: 400, param: 'input' });
    await assertApiError(client.embeddings.create({ model: tinyModelId, input: 'x', dimensions: 3 }), { status: 400, param: 'dimensions' });
    await assertApiError(client.embeddings.create({ model: 'missing', input: 'x' }), { status: 404, code: 'model_not_found' });
  });
});

describe('logit_bias', () => {
  // The tiny model's own tokenizer (vocabulary only, no weights): logit_bias keys are its token ids.
  let vocabulary: LlamaModel;
  before(async () => {
    vocabulary = await (await getLlama({ gpu: false })).loadModel({ modelPath: tinyModelPath, vocabOnly: true });
  });
  after(() => vocabulary.dispose());
  const hi = [{ role: 'user' as const, content: 'hi' }];

  test('+100 forces a token, in chat and legacy completions, streamed too', async () => {
    const [hello] = vocabulary.tokenize('hello');
    const fourTimes = vocabulary.detokenize([hello!, hello!, hello!, hello!]);
    const bias = { [hello!]: 100 };
    const chat = await client.chat.completions.create({ model: tinyModelId, messages: hi, max_tokens: 4, seed: 1, logit_bias: bias });
    assertSchema('CreateChatCompletionResponse', chat);
    assert.equal(chat.choices[0]!.message.content, fourTimes);
    const legacy = await client.completions.create({ model: tinyModelId, prompt: 'abc', max_tokens: 4, seed: 2, logit_bias: bias });
    assert.equal(legacy.choices[0]!.text, fourTimes);
    const stream = await client.chat.completions.create({ model: tinyModelId, messages: hi, max_tokens: 4, seed: 3, logit_bias: bias, stream: true });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    assert.equal(streamed, fourTimes);
  });

  test('max_tokens holds when the last token allowed ends inside a multi-byte character', async () => {
    // An emoji is four byte tokens in this vocabulary; forcing its first byte makes every token one
    // that ends mid-character. node-llama-cpp holds such a token back: LlamaCompletion generated
    // one more than max_tokens, and LlamaChat never reported the held one (billed 0 for 1).
    // test/sampledTokenCap.test.ts counts the tokens generated.
    const [firstByte] = vocabulary.tokenize('\u{1F600}', false, 'trimLeadingSpace');
    assert.match(vocabulary.detokenize([firstByte!]), /\uFFFD$/, 'the forced token ends inside a character');
    const bias = { [firstByte!]: 100 };
    for (const max_tokens of [1, 2, 3]) {
      const legacy = await client.completions.create({ model: tinyModelId, prompt: 'abc', max_tokens, seed: 4, logit_bias: bias });
      assert.equal(legacy.usage!.completion_tokens, max_tokens, `max_tokens ${max_tokens}`);
      assert.equal(legacy.choices[0]!.finish_reason, 'length');
      const chat = await client.chat.completions.create({ model: tinyModelId, messages: hi, max_tokens, seed: 4, logit_bias: bias });
      assert.equal(chat.usage!.completion_tokens, max_tokens, `chat, max_tokens ${max_tokens}`);
      assert.equal(chat.choices[0]!.finish_reason, 'length');
    }
  });

  test('-100 bans a token: the greedy choice moves to another', async () => {
    const greedy = { model: tinyModelId, messages: hi, max_tokens: 1, temperature: 0 };
    const first = (await client.chat.completions.create(greedy)).choices[0]!.message.content!;
    const [token, ...rest] = vocabulary.tokenize(first, false, 'trimLeadingSpace');
    assert.equal(rest.length, 0, `'${first}' is one token`);
    const banned = await client.chat.completions.create({ ...greedy, logit_bias: { [token!]: -100 } });
    assert.notEqual(banned.choices[0]!.message.content, first);
    // An empty map is no bias.
    assert.equal((await client.chat.completions.create({ ...greedy, logit_bias: {} })).choices[0]!.message.content, first);
  });

  test('bad biases and token ids outside the vocabulary are 400s naming the param', async () => {
    const ask = (logit_bias: Record<string, number>) => client.chat.completions.create({ model: tinyModelId, messages: hi, max_tokens: 2, logit_bias });
    await assertApiError(ask({ hello: 5 }), { status: 400, param: 'logit_bias.hello' });
    await assertApiError(ask({ 5: 101 }), { status: 400, param: 'logit_bias.5' });
    await assertApiError(ask({ 32000: 1 }), { status: 400, param: 'logit_bias' });
    // End-of-generation tokens are refused: node-llama-cpp would ignore their bias without a word.
    await assertApiError(ask({ [vocabulary.tokens.eos!]: -100 }), { status: 400, param: 'logit_bias' });
    // Token prompts and token inputs are checked the same way (llama.cpp failed the decode: a 500).
    await assertApiError(client.completions.create({ model: tinyModelId, prompt: [1, 32000], max_tokens: 2 }), { status: 400, param: 'prompt' });
    await assertApiError(client.embeddings.create({ model: tinyModelId, input: [[5], [99999]] }), { status: 400, param: 'input' });
  });
});

describe('errors', () => {
  test('an unknown model is a 404 model_not_found, streaming or not', async () => {
    const body = { model: 'missing-model', messages: [{ role: 'user' as const, content: 'hi' }] };
    await assertApiError(client.chat.completions.create(body), { status: 404, code: 'model_not_found', param: 'model' });
    await assertApiError(client.chat.completions.create({ ...body, stream: true }), { status: 404, code: 'model_not_found' });
    await assertApiError(client.completions.create({ model: 'missing-model', prompt: 'x' }), { status: 404, code: 'model_not_found' });
  });

  test('invalid fields are a 400 naming the param', async () => {
    const user = { role: 'user' as const, content: 'hi' };
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [user], temperature: 3 }), { status: 400, param: 'temperature', code: 'invalid_value' });
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [] }), { status: 400, param: 'messages' });
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'wizard', content: 'x' } as any] }), { status: 400, param: 'messages[0].role' });
    await assertApiError(client.chat.completions.create({ messages: [user] } as any), { status: 400, param: 'model', code: 'missing_required_parameter' });
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [user], n: 100 }), { status: 400, param: 'n' });
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [user], max_tokens: 0 }), { status: 400, param: 'max_tokens' });
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [user], frobnicate: true } as any), { status: 400, code: 'unsupported_parameter', param: 'frobnicate' });
    const raw = await postJson('/v1/chat/completions', { model: tinyModelId, messages: [user], top_p: 'high' });
    assert.equal(raw.status, 400);
    assertSchema('ErrorResponse', raw.body);
  });

  test('invalid JSON is a 400; a body over the limit is a 413; both in OpenAI shape', async () => {
    const bad = await postJson('/v1/chat/completions', '{"model": ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_json');
    assertSchema('ErrorResponse', bad.body);
    const huge = await postJson('/v1/chat/completions', { model: tinyModelId, messages: [{ role: 'user', content: 'x'.repeat(5 * 1024 * 1024) }] });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'request_too_large');
    const notJson = await authedFetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    assert.equal(notJson.status, 415);
  });

  test('a prompt longer than the context is a 400 context_length_exceeded, never truncated', async () => {
    const long = 'word '.repeat(2000);
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: long }] }), {
      status: 400,
      code: 'context_length_exceeded',
      param: 'messages',
    });
    await assertApiError(client.completions.create({ model: tinyModelId, prompt: long }), { status: 400, code: 'context_length_exceeded', param: 'prompt' });
    // Fits alone, but not with the requested completion.
    await assertApiError(client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 600 }), {
      status: 400,
      code: 'context_length_exceeded',
    });
    await assertApiError(client.embeddings.create({ model: tinyModelId, input: long }), { status: 400, code: 'context_length_exceeded' });
  });

  test('an unknown route is a 404 in OpenAI shape', async () => {
    const response = await authedFetch(`${server.url}/v1/nothing-here`);
    assert.equal(response.status, 404);
    assertSchema('ErrorResponse', await response.json());
  });

  test('the server survives a burst of malformed requests', async () => {
    const bodies = ['', 'null', '[]', '"text"', '{"model": 5}', '{"messages": {}}', '{"model":"x","messages":[{"role":"user"}]}', '\u0000'];
    for (const body of bodies) {
      const response = await authedFetch(`${server.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.ok(response.status >= 400 && response.status < 500, `${JSON.stringify(body)} → ${response.status}`);
      const json = (await response.json()) as any;
      assert.equal(typeof json.error.message, 'string');
    }
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  });
});

describe('operations', () => {
  test('healthz, readyz and metrics', async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
    // readyz turns 200 once llama.cpp is loaded (it already served requests above).
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    const readyBody = (await ready.json()) as any;
    assert.equal(readyBody.backend, 'cpu');
    assert.deepEqual(readyBody.models_loaded, [tinyModelId]);
    const metrics = await (await authedFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /llmsvc_http_requests_total\{method="POST",route="\/v1\/chat\/completions",status="200"\} \d+/);
    assert.match(metrics, /llmsvc_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/v1\/chat\/completions",status="200"\}/);
    assert.match(metrics, new RegExp(`llmsvc_completion_tokens_total\\{model="${tinyModelId}"\\} [1-9]`));
    assert.match(metrics, new RegExp(`llmsvc_prompt_tokens_total\\{model="${tinyModelId}"\\} [1-9]`));
    assert.match(metrics, new RegExp(`llmsvc_time_to_first_token_seconds_count\\{model="${tinyModelId}"\\} [1-9]`));
    assert.match(metrics, /llmsvc_models_loaded 1/);
  });

  test('x-request-id is honoured and returned; a fresh one is made otherwise', async () => {
    const honoured = await postJson('/v1/embeddings', { model: tinyModelId, input: 'id' }, { 'x-request-id': 'my-trace-123' });
    assert.equal(honoured.headers.get('x-request-id'), 'my-trace-123');
    const fresh = await postJson('/v1/embeddings', { model: tinyModelId, input: 'id' }, { 'x-request-id': 'bad id\nwith newline'.replace('\n', ' ') });
    assert.match(fresh.headers.get('x-request-id') ?? '', /^req-[A-Za-z0-9]{24}$/);
    const response = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }).withResponse();
    assert.match(response.response.headers.get('x-request-id') ?? '', /^req-/);
  });

  test('the request log holds one row per API request, without prompt text by default', async () => {
    await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'secret prompt words' }], max_tokens: 2, seed: 2 }, { headers: { 'x-request-id': 'logged-1' } });
    assert.ok(await waitFor(async () => (await server.service.store.requestLog.recent(500)).some((entry) => entry.id === 'logged-1')));
    const row = (await server.service.store.requestLog.recent(500)).find((entry) => entry.id === 'logged-1');
    assert.ok(row, 'the request was logged');
    assert.equal(row.route, '/v1/chat/completions');
    assert.equal(row.status, 200);
    assert.equal(row.model, tinyModelId);
    assert.equal(row.completionTokens, 2);
    assert.ok(row.promptTokens! > 0);
    assert.ok(row.latencyMs > 0);
    assert.ok(row.ttftMs! > 0 && row.ttftMs! <= row.latencyMs);
    assert.equal(row.promptText, null);
    const failed = (await server.service.store.requestLog.recent(500)).find((entry) => entry.status === 404 && entry.errorCode === 'LLMSVC_ERR_MODEL_NOT_FOUND');
    assert.ok(failed, 'errors are logged with their code');
    assert.ok(!server.logs().includes('secret prompt words'), 'no prompt text in the logs');
  });

  test('logs carry the request id and no key, valid or not', async () => {
    await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }, { headers: { 'x-request-id': 'log-check-1' } });
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'sk-llmsvc-wrong-secret-value', maxRetries: 0 });
    await assert.rejects(wrong.models.list());
    const logs = server.logs();
    assert.ok(logs.includes('"reqId":"log-check-1"'));
    assert.ok(!logs.includes(testAdminKey), 'the admin key is not logged');
    assert.ok(!logs.includes('wrong-secret-value'), 'a rejected key is not logged');
  });

  test('one log line per request, with method, url, status, duration, request id and key id', async () => {
    await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }, { headers: { 'x-request-id': 'log-check-2' } });
    let lines: Record<string, unknown>[] = [];
    for (let attempt = 0; attempt < 50 && lines.length === 0; attempt++) {
      // Written when the server is done with the response, which can be a moment after the client has it.
      lines = server.logs().split('\n').filter((line) => line.includes('"reqId":"log-check-2"')).map((line) => JSON.parse(line) as Record<string, unknown>);
      if (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(lines.length, 1, 'one line, not fastify’s two');
    const [line] = lines;
    assert.equal(line!.msg, 'request completed');
    assert.equal(line!.method, 'POST');
    assert.equal(line!.url, '/v1/chat/completions');
    assert.equal(line!.statusCode, 200);
    assert.equal(typeof line!.responseTime, 'number');
    assert.equal(line!.keyId, 'key_admin');
    assert.ok(!server.logs().includes('incoming request'));
  });

  test('a client that disconnects mid-stream frees its sequence', async () => {
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: tinyModelId, messages: [{ role: 'user', content: 'long' }], max_tokens: 400, seed: 400, stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    for await (const _chunk of stream) {
      if (++chunks === 3) break;
    }
    controller.abort();
    // The server notices, aborts the generation and frees the sequence.
    const active = async () => (await server.service.runtimeStats()).models[tinyModelId]?.active;
    assert.ok(await waitFor(async () => (await active()) === 0));
    const row = (await server.service.store.requestLog.recent(50)).find((entry) => entry.errorCode === 'client_closed_request');
    assert.ok(row, 'the dropped stream is logged as closed by the client');
    // Every sequence is free, so a request on each completes.
    const results = await Promise.all(
      Array.from({ length: 4 }, () => client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'after' }], max_tokens: 3, seed: 3 })),
    );
    assert.ok(results.every((r) => r.usage!.completion_tokens === 3));
  });
});
