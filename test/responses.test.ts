import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { SqliteStore } from '../core/store/index.js';
import { toChatMessages } from '../core/server/routes/openai/responses/translate.js';
import { inputItemsPage } from '../core/server/routes/openai/responses/store.js';
import { responseEventErrors, schemaErrors } from './support/openapi.js';
import { faults, startFaultProxy, type FaultProxy } from './support/faultProxy.js';
import { authedFetch, sqliteDbOf, startTestServer, tempDir, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// The Responses API (POST /v1/responses and the stored-response routes) through the official
// openai SDK, on the tiny local model and on routed upstream models: a second llmsvc on loopback
// behind an openai-compatible provider and behind an anthropic one. Every Response object and
// every stream event is validated against OpenAI's own schemas. The tiny model's weights are
// random: every request whose length or content matters is seeded.

let upstream: TestServer;
/** Between the server and the upstream for the 'flaky' route: cuts a stream on demand. */
let proxy: FaultProxy;
let server: TestServer;
let client: OpenAI;

const seeded = { temperature: 0.8, seed: 42, max_output_tokens: 12 } as const;
/** `seed` is llmsvc's extension to the Responses API: the SDK sends extra fields as they are. */
type Seeded = { seed?: number };

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'] }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
    required: ['city', 'unit'],
    additionalProperties: false,
  },
  strict: true,
};

function assertResponse(response: unknown) {
  assert.deepEqual(schemaErrors('Response', response), [], "the Response must validate against OpenAI's schema");
}

async function createKey(name: string): Promise<string> {
  const response = await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  assert.equal(response.status, 201, await response.clone().text());
  return ((await response.json()) as { key: string }).key;
}

async function assertApiError(promise: Promise<unknown>, status: number, code: string, param: string | null, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof OpenAI.APIError, String(error));
    assert.equal(error.status, status, error.message);
    assert.equal(error.code, code);
    assert.equal(error.param, param);
    if (message) assert.match(error.message, message);
    return true;
  });
}

before(async () => {
  // The upstream has the response cache on: the cache test uses it directly (one server fewer to start).
  upstream = await startTestServer({ context_size: 512, cache: true });
  proxy = await startFaultProxy(upstream.url);
  server = await startTestServer(
    {
      context_size: 512,
      providers: [
        { id: 'up', type: 'openai-compatible', base_url: `${upstream.url}/v1`, api_key_env: 'UP_KEY', models: [tinyModelId] },
        { id: 'oai', type: 'openai', base_url: `${upstream.url}/v1`, api_key_env: 'UP_KEY' },
        { id: 'claude', type: 'anthropic', base_url: upstream.url, api_key_env: 'UP_KEY' },
        { id: 'flaky', type: 'openai-compatible', base_url: `${proxy.url}/v1`, api_key_env: 'UP_KEY', models: [tinyModelId] },
      ],
      routes: [
        { model: 'via-openai', targets: [{ provider: 'up', model: tinyModelId }] },
        { model: 'via-oai', targets: [{ provider: 'oai', model: tinyModelId }] },
        { model: 'via-claude', targets: [{ provider: 'claude', model: tinyModelId }] },
        { model: 'flaky', targets: [{ provider: 'flaky', model: tinyModelId }] },
      ],
    },
    { UP_KEY: testAdminKey },
  );
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(async () => {
  await server?.stop();
  await proxy?.close();
  await upstream?.stop();
});

describe('translation to the chat pipeline', () => {
  test("an assistant's text and the function calls after it are one turn; outputs are tool messages; developer is system", () => {
    const messages = toChatMessages('Be brief.', [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Use tools.' }] },
      { role: 'user', content: 'Weather?' },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
      { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Lima"}' },
      { type: 'function_call_output', call_id: 'call_a', output: 'rain' },
      { type: 'function_call_output', call_id: 'call_b', output: [{ type: 'input_text', text: 'sun' }] },
      { type: 'function_call', call_id: 'call_c', name: 'get_weather', arguments: '{}' },
    ]);
    assert.deepEqual(messages, [
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use tools.' },
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: 'Checking.',
        toolCalls: [
          { id: 'call_a', name: 'get_weather', arguments: '{"city":"Oslo"}' },
          { id: 'call_b', name: 'get_weather', arguments: '{"city":"Lima"}' },
        ],
      },
      { role: 'tool', toolCallId: 'call_a', content: 'rain' },
      { role: 'tool', toolCallId: 'call_b', content: 'sun' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_c', name: 'get_weather', arguments: '{}' }] },
    ]);
  });

  test('input_items pages like OpenAI lists: order, after, before, has_more', () => {
    const context = ['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, type: 'message' }));
    const stored = { id: 'resp_x', createdAt: 0, model: 'm', response: {}, context, inputCount: 4 };
    const ids = (page: { data: Record<string, unknown>[] }) => page.data.map((item) => item.id);
    assert.deepEqual(ids(inputItemsPage(stored, { limit: 20, order: 'asc' })), ['b', 'c', 'd', 'e'], "only the response's own input");
    const first = inputItemsPage(stored, { limit: 2, order: 'desc' });
    assert.deepEqual([ids(first), first.has_more, first.first_id, first.last_id], [['e', 'd'], true, 'e', 'd']);
    const next = inputItemsPage(stored, { limit: 2, order: 'desc', after: 'd' });
    assert.deepEqual([ids(next), next.has_more], [['c', 'b'], false]);
    const back = inputItemsPage(stored, { limit: 1, order: 'desc', before: 'c' });
    assert.deepEqual([ids(back), back.has_more], [['d'], true]);
    assert.deepEqual(ids(inputItemsPage(stored, { limit: 2, order: 'asc', after: 'nope' })), []);
  });
});

describe('the responses table', () => {
  test('a stored response, its key and its context survive closing and reopening the database; delete removes it', async () => {
    const dataDir = tempDir();
    const stored = {
      id: 'resp_kept',
      keyId: 'key_1',
      createdAt: 1_700_000_000,
      model: 'm',
      response: { id: 'resp_kept', output: [{ type: 'message' }] },
      context: [{ id: 'msg_1', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      inputCount: 1,
    };
    const first = SqliteStore.open(dataDir);
    await first.responses.insert(stored);
    await first.responses.insert({ ...stored, id: 'resp_open', keyId: undefined });
    first.dispose();
    const second = SqliteStore.open(dataDir);
    try {
      assert.deepEqual(await second.responses.find('resp_kept'), stored);
      assert.equal((await second.responses.find('resp_open'))?.keyId, undefined, 'auth off: no key');
      assert.equal(await second.responses.delete('resp_kept'), true);
      assert.equal(await second.responses.find('resp_kept'), undefined);
      assert.equal(await second.responses.delete('resp_kept'), false);
    } finally {
      second.dispose();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('POST /v1/responses', () => {
  test('a string input answers with a completed Response: a message with output_text, usage, stored by default', async () => {
    const response = await client.responses.create({ model: tinyModelId, input: 'Say hello.', ...seeded, seed: 1 } as OpenAI.Responses.ResponseCreateParamsNonStreaming & Seeded);
    assertResponse(response);
    assert.match(response.id, /^resp_/);
    assert.equal(response.object, 'response');
    assert.ok(['completed', 'incomplete'].includes(response.status!));
    assert.equal(response.store, true);
    const message = response.output[0]!;
    assert.equal(message.type, 'message');
    assert.equal(response.output_text, message.type === 'message' && message.content[0]!.type === 'output_text' ? message.content[0]!.text : undefined);
    const usage = response.usage!;
    assert.ok(usage.input_tokens > 0 && usage.output_tokens > 0);
    assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens);
    assert.deepEqual(usage.input_tokens_details, { cached_tokens: 0, cache_write_tokens: 0 });
    assert.deepEqual(usage.output_tokens_details, { reasoning_tokens: 0 });
  });

  test('the same input as one string or as items, with instructions or as a developer message, is the same prompt', async () => {
    const asString = await client.responses.create({ model: tinyModelId, instructions: 'Be brief.', input: 'Name a colour.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const asItems = await client.responses.create({
      model: tinyModelId,
      input: [
        { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'Be brief.' }] },
        { role: 'user', content: [{ type: 'input_text', text: 'Name a colour.' }] },
      ],
      ...seeded,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assertResponse(asString);
    assertResponse(asItems);
    assert.equal(asString.instructions, 'Be brief.');
    assert.equal(asItems.output_text, asString.output_text);
    assert.equal(asItems.usage!.input_tokens, asString.usage!.input_tokens);
    const without = await client.responses.create({ model: tinyModelId, input: 'Name a colour.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.ok(without.usage!.input_tokens < asString.usage!.input_tokens, 'the instructions are part of the prompt');
  });

  test('seeded requests answer the same; another seed answers differently', async () => {
    const body = { model: tinyModelId, input: 'Tell me a story.', temperature: 1, max_output_tokens: 16 };
    const [a, b, c] = await Promise.all(
      [7, 7, 8].map((seed) => client.responses.create({ ...body, seed } as OpenAI.Responses.ResponseCreateParamsNonStreaming & Seeded)),
    );
    assert.equal(a!.output_text, b!.output_text);
    assert.notEqual(a!.output_text, c!.output_text);
  });

  test('max_output_tokens cuts the answer: status incomplete, incomplete_details.reason max_output_tokens', async () => {
    // A large negative bias on nothing would not keep a random model talking; many seeds do. Find one that runs to the limit.
    let response: OpenAI.Responses.Response | undefined;
    for (let seed = 1; seed < 20 && response?.status !== 'incomplete'; seed++) {
      response = await client.responses.create({ model: tinyModelId, input: 'Count to ten.', max_output_tokens: 3, temperature: 1, seed } as OpenAI.Responses.ResponseCreateParamsNonStreaming & Seeded);
    }
    assertResponse(response);
    assert.equal(response!.status, 'incomplete');
    assert.deepEqual(response!.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(response!.usage!.output_tokens, 3);
    assert.equal(response!.max_output_tokens, 3);
    const message = response!.output[0]!;
    assert.equal(message.type === 'message' && message.status, 'incomplete');
  });

  test('text.format json_schema: the output parses as JSON with the required keys', async () => {
    const schema = { type: 'object', properties: { colour: { type: 'string', enum: ['red', 'green'] }, bright: { type: 'boolean' } }, required: ['colour', 'bright'], additionalProperties: false };
    const response = await client.responses.create({
      model: tinyModelId,
      input: 'Pick a colour.',
      text: { format: { type: 'json_schema', name: 'pick', schema, strict: true } },
      temperature: 0,
      max_output_tokens: 40,
    });
    assertResponse(response);
    assert.equal(response.status, 'completed');
    const parsed = JSON.parse(response.output_text) as Record<string, unknown>;
    assert.ok(['red', 'green'].includes(parsed.colour as string));
    assert.equal(typeof parsed.bright, 'boolean');
    assert.deepEqual(response.text?.format, { type: 'json_schema', name: 'pick', schema, strict: true });
  });

  test('a forced function call, then its output sent back with previous_response_id', async () => {
    const first = await client.responses.create({ model: tinyModelId, input: 'Weather in Oslo?', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather' }, temperature: 0 });
    assertResponse(first);
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
    assert.equal(call.name, 'get_weather');
    assert.match(call.call_id, /^call_/);
    assert.match(call.id!, /^fc_/);
    const args = JSON.parse(call.arguments) as { city: string; unit: string };
    assert.ok(['Paris', 'Oslo', 'Lima'].includes(args.city) && ['celsius', 'fahrenheit'].includes(args.unit), call.arguments);
    assert.deepEqual(first.tool_choice, { type: 'function', name: 'get_weather' });

    const second = await client.responses.create({
      model: tinyModelId,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"sky":"clear","degrees":4}' }],
      tools: [weatherTool],
      ...seeded,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assertResponse(second);
    assert.equal(second.previous_response_id, first.id);
    assert.ok(second.usage!.input_tokens > first.usage!.input_tokens, 'the earlier input, the call and its output are all in the prompt');
    const items = await client.responses.inputItems.list(second.id);
    assert.deepEqual(
      items.data.map((item) => item.type),
      ['function_call_output'],
      "input_items lists the response's own input",
    );
    assert.deepEqual(schemaErrors('ResponseItemList', { ...(await (await authedFetch(`${server.url}/v1/responses/${second.id}/input_items`)).json()) }), []);
  });

  test('built-in tools are a 400 that names the tool and says what to use instead', async () => {
    for (const type of ['web_search', 'code_interpreter', 'file_search', 'image_generation']) {
      await assertApiError(
        client.responses.create({ model: tinyModelId, input: 'hi', tools: [{ type } as OpenAI.Responses.Tool] }),
        400,
        'unsupported_tool',
        'tools',
        new RegExp(`'${type}'.*Instead`),
      );
    }
    await assertApiError(client.responses.create({ model: tinyModelId, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x', detail: 'auto' }] }] }), 400, 'invalid_value', 'input[0].content[0].type', /only text content/);
    await assertApiError(client.responses.create({ model: tinyModelId, input: 'hi', tool_choice: 'required' }), 400, 'invalid_value', 'tool_choice', /needs tools/);
    await assertApiError(client.responses.create({ model: 'no-such-model', input: 'hi' }), 404, 'model_not_found', 'model');
    // Types named like Object's own properties are refused as unknown, not looked up on the prototype.
    await assertApiError(client.responses.create({ model: tinyModelId, input: [{ type: 'constructor' }] } as never), 400, 'invalid_value', 'input[0]', /'constructor' are not supported/);
    await assertApiError(client.responses.create({ model: tinyModelId, input: 'hi', tools: [{ type: 'toString' }] } as never), 400, 'unsupported_tool', 'tools', /'toString'.*function tool/);
    await assertApiError(
      client.responses.create({ model: tinyModelId, input: 'hi', tools: [weatherTool, weatherTool] }),
      400,
      'invalid_value',
      'tools[1].name',
      /given twice/,
    );
    await assertApiError(
      client.responses.create({ model: tinyModelId, input: [{ role: 'user', content: 'hi' }, { type: 'function_call_output', call_id: 'call_x', output: 'sun' }] }),
      400,
      'invalid_value',
      'input[1].call_id',
      /No tool call found for function call output with call_id 'call_x'/,
    );
    await assertApiError(
      client.responses.create({ model: tinyModelId, input: [{ type: 'function_call', call_id: 'call_y', name: 'get_weather', arguments: '{}' }, { role: 'user', content: 'and?' }] }),
      400,
      'invalid_value',
      'input[1]',
      /No tool output found for function call 'call_y'/,
    );
    await assertApiError(client.responses.create({ model: tinyModelId, input: 'hi', frobnicate: 1 } as OpenAI.Responses.ResponseCreateParamsNonStreaming), 400, 'unsupported_parameter', 'frobnicate');
  });
});

describe('streaming', () => {
  const eventOrder = (types: string[]) => types.filter((type, index) => type !== types[index - 1] || type !== 'response.output_text.delta');

  test('events arrive in OpenAI’s order, each schema-valid and numbered, and the deltas add up to the final text', async () => {
    const stream = await client.responses.create({ model: tinyModelId, input: 'Say hello.', ...seeded, seed: 3, stream: true } as OpenAI.Responses.ResponseCreateParamsStreaming & Seeded);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    for (const event of events) assert.deepEqual(responseEventErrors(event), [], event.type);
    assert.deepEqual(
      events.map((event) => event.sequence_number),
      events.map((_event, index) => index),
    );
    const final = events.at(-1)!;
    assert.ok(final.type === 'response.completed' || final.type === 'response.incomplete');
    const response = final.response;
    assert.deepEqual(eventOrder(events.map((event) => event.type)), [
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      final.type,
    ]);
    const text = events.flatMap((event) => (event.type === 'response.output_text.delta' ? [event.delta] : [])).join('');
    const message = response.output[0]!;
    assert.equal(message.type === 'message' && message.content[0]!.type === 'output_text' && message.content[0]!.text, text);
    const done = events.find((event) => event.type === 'response.output_text.done');
    assert.equal(done?.type === 'response.output_text.done' && done.text, text);
    // The same request, not streamed, gives the same answer; the stored response is the final one.
    const whole = await client.responses.create({ model: tinyModelId, input: 'Say hello.', ...seeded, seed: 3 } as OpenAI.Responses.ResponseCreateParamsNonStreaming & Seeded);
    assert.equal(whole.output_text, text);
    assert.deepEqual(await client.responses.retrieve(response.id), { ...response, output_text: text });
  });

  test('the SDK’s responses.stream helper assembles the same response; a streamed function call has its argument events', async () => {
    const runner = client.responses.stream({ model: tinyModelId, input: 'Weather in Lima?', tools: [weatherTool], tool_choice: 'required', temperature: 0 });
    const types: string[] = [];
    runner.on('event', (event) => {
      assert.deepEqual(responseEventErrors(event), [], event.type);
      types.push(event.type);
    });
    const final = await runner.finalResponse();
    assertResponse(final);
    const call = final.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    const callIndex = final.output.indexOf(call);
    assert.deepEqual(types.slice(-5), [
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    assert.equal(callIndex, final.output.length - 1);
    assert.ok(JSON.parse(call.arguments));
  });

  test('a stream that fails after it opened ends with error and response.failed events', async () => {
    // A seed whose answer runs to the limit, so that the upstream stream has more events than the cut lets through.
    const body = { model: 'flaky', input: 'Tell a long story.', temperature: 1, max_output_tokens: 8 };
    let seed = 1;
    while ((await client.responses.create({ ...body, seed } as OpenAI.Responses.ResponseCreateParamsNonStreaming & Seeded)).status !== 'incomplete') {
      assert.ok(++seed < 20, 'some seed runs to the token limit');
    }
    proxy.enqueue(faults.resetMid({ sseEvents: 3 }));
    const stream = await client.responses.create({ ...body, seed, stream: true } as OpenAI.Responses.ResponseCreateParamsStreaming & Seeded);
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    for (const event of events) assert.deepEqual(responseEventErrors(event), [], event.type);
    assert.ok(events.some((event) => event.type === 'response.output_text.delta'), 'the failure came after text was sent');
    assert.deepEqual(
      events.slice(-2).map((event) => event.type),
      ['error', 'response.failed'],
    );
    const [error, failed] = events.slice(-2);
    assert.ok(error?.type === 'error' && error.code === 'upstream_unavailable' && /upstream/i.test(error.message), JSON.stringify(error));
    assert.ok(failed?.type === 'response.failed');
    assert.equal(failed.response.status, 'failed');
    assert.equal(failed.response.error?.code, 'server_error');
    assert.deepEqual(
      events.map((event) => event.sequence_number),
      events.map((_event, index) => index),
    );
  });
});

describe('stored responses', () => {
  test('retrieve returns the stored response; delete removes it; both are 404s after, as is an unknown id', async () => {
    const created = await client.responses.create({ model: tinyModelId, input: 'Hi.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const retrieved = await client.responses.retrieve(created.id);
    assertResponse(retrieved);
    assert.deepEqual(retrieved, created);
    const deletion = await authedFetch(`${server.url}/v1/responses/${created.id}`, { method: 'DELETE' });
    assert.deepEqual(await deletion.json(), { id: created.id, object: 'response', deleted: true });
    await assertApiError(client.responses.retrieve(created.id), 404, 'not_found', 'response_id');
    await assertApiError(client.responses.delete(created.id), 404, 'not_found', 'response_id');
    await assertApiError(client.responses.retrieve('resp_unknown'), 404, 'not_found', 'response_id', /No response found with id 'resp_unknown'/);
  });

  test('SDK delete works, and an unknown previous_response_id is a 404 like OpenAI’s', async () => {
    const created = await client.responses.create({ model: tinyModelId, input: 'Hi.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    await client.responses.delete(created.id);
    await assertApiError(
      client.responses.create({ model: tinyModelId, input: 'Go on.', previous_response_id: created.id }),
      404,
      'previous_response_not_found',
      'previous_response_id',
      /Previous response with id/,
    );
  });

  test('store: false keeps nothing', async () => {
    const created = await client.responses.create({ model: tinyModelId, input: 'Hi.', store: false, ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal(created.store, false);
    await assertApiError(client.responses.retrieve(created.id), 404, 'not_found', 'response_id');
  });

  test('previous_response_id continues the conversation: the earlier input and output are the history', async () => {
    const first = await client.responses.create({ model: tinyModelId, input: 'My name is Ada.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    const second = await client.responses.create({ model: tinyModelId, input: 'What is my name?', previous_response_id: first.id, ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    // The same conversation sent whole as items is the same prompt and (seeded) the same answer.
    const whole = await client.responses.create({
      model: tinyModelId,
      input: [
        { role: 'user', content: 'My name is Ada.' },
        { role: 'assistant', content: first.output_text },
        { role: 'user', content: 'What is my name?' },
      ],
      ...seeded,
    } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal(second.usage!.input_tokens, whole.usage!.input_tokens);
    assert.equal(second.output_text, whole.output_text);
    const items = await (await authedFetch(`${server.url}/v1/responses/${whole.id}/input_items?order=asc`)).json();
    assert.deepEqual(schemaErrors('ResponseItemList', items), []);
    assert.deepEqual(
      (items as { data: { role: string }[] }).data.map((item) => item.role),
      ['user', 'assistant', 'user'],
    );
    const own = await client.responses.inputItems.list(second.id);
    assert.deepEqual(
      own.data.map((item) => item.type === 'message' && item.content[0]?.type === 'input_text' && item.content[0].text),
      ['What is my name?'],
      'input_items of a continuation lists its own input only',
    );
  });

  test("another user key cannot read, continue or delete a key's stored response; an admin key can read it", async () => {
    const alice = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: await createKey('alice'), maxRetries: 0 });
    const bob = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: await createKey('bob'), maxRetries: 0 });
    const created = await alice.responses.create({ model: tinyModelId, input: 'A secret.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    assert.equal((await alice.responses.retrieve(created.id)).id, created.id);
    await assertApiError(bob.responses.retrieve(created.id), 404, 'not_found', 'response_id');
    await assertApiError(bob.responses.delete(created.id), 404, 'not_found', 'response_id');
    await assertApiError(bob.responses.inputItems.list(created.id), 404, 'not_found', 'response_id');
    await assertApiError(bob.responses.create({ model: tinyModelId, input: 'Go on.', previous_response_id: created.id }), 404, 'previous_response_not_found', 'previous_response_id');
    assert.equal((await client.responses.retrieve(created.id)).id, created.id, 'the admin key reads it');
    assert.equal((await alice.responses.retrieve(created.id)).id, created.id, "bob's delete did nothing");
  });

  test('the response cache answers a repeated request, plain or streamed, as it does chat completions', async () => {
    const cachedClient = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const body = { model: tinyModelId, input: 'Cache me.', temperature: 0, max_output_tokens: 5 };
    const ask = (stream: boolean) => cachedClient.responses.create({ ...body, stream } as OpenAI.Responses.ResponseCreateParams).withResponse();
    const first = await ask(false);
    assert.equal(first.response.headers.get('x-llmsvc-cache'), 'miss');
    const text = (first.data as OpenAI.Responses.Response).output_text;
    // The entry is written just after the answer: on a loaded machine the next request may come first.
    let again = await ask(false);
    for (let tries = 0; again.response.headers.get('x-llmsvc-cache') !== 'hit' && tries < 20; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      again = await ask(false);
    }
    assert.equal(again.response.headers.get('x-llmsvc-cache'), 'hit');
    assert.equal((again.data as OpenAI.Responses.Response).output_text, text);
    const streamed = await ask(true);
    assert.equal(streamed.response.headers.get('x-llmsvc-cache'), 'hit', 'stream and non-stream share the entry');
    let streamedText = '';
    for await (const event of streamed.data as AsyncIterable<OpenAI.Responses.ResponseStreamEvent>) {
      if (event.type === 'response.output_text.done') streamedText = event.text;
    }
    assert.equal(streamedText, text);
  });

  test('the request log and usage account a response as they do a chat completion', async () => {
    const created = await client.responses.create({ model: tinyModelId, input: 'Count.', ...seeded } as OpenAI.Responses.ResponseCreateParamsNonStreaming);
    await server.service.store.ledger.flush();
    const row = sqliteDbOf(server.service.store)
      .prepare("SELECT route, model, prompt_tokens, completion_tokens, status FROM request_log WHERE route = '/v1/responses' ORDER BY rowid DESC LIMIT 1")
      .get() as Record<string, unknown>;
    assert.deepEqual(row, { route: '/v1/responses', model: tinyModelId, prompt_tokens: created.usage!.input_tokens, completion_tokens: created.usage!.output_tokens, status: 200 });
  });
});

describe('routed upstream models', () => {
  test('openai-compatible, openai and anthropic upstreams answer through the same translation, stream and all', async () => {
    for (const model of ['via-openai', 'via-oai', 'via-claude']) {
      const response = await client.responses.create({ model, input: 'Name three colours.', instructions: 'Be brief.', temperature: 0, max_output_tokens: 10 });
      assertResponse(response);
      assert.equal(response.model, model);
      assert.equal(response.output[0]!.type, 'message', model);
      assert.ok(response.usage!.input_tokens > 0 && response.usage!.output_tokens > 0, model);
      const direct = await client.responses.create({ model: tinyModelId, input: 'Name three colours.', instructions: 'Be brief.', temperature: 0, max_output_tokens: 10 });
      assert.equal(response.output_text, direct.output_text, `${model} answers as the model it routes to`);

      const stream = await client.responses.create({ model, input: 'Name three colours.', instructions: 'Be brief.', temperature: 0, max_output_tokens: 10, stream: true });
      let text = '';
      let final: OpenAI.Responses.Response | undefined;
      for await (const event of stream) {
        assert.deepEqual(responseEventErrors(event), [], `${model} ${event.type}`);
        if (event.type === 'response.output_text.delta') text += event.delta;
        if (event.type === 'response.completed' || event.type === 'response.incomplete') final = event.response;
      }
      assert.equal(text, direct.output_text, model);
      assert.equal(final?.status, direct.status, model);
    }
  });

  test('a function call through the anthropic upstream round-trips with previous_response_id', async () => {
    const first = await client.responses.create({ model: 'via-claude', input: 'Weather in Paris?', tools: [weatherTool], tool_choice: { type: 'function', name: 'get_weather' }, temperature: 0, max_output_tokens: 40 });
    assertResponse(first);
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call', JSON.stringify(first.output));
    const second = await client.responses.create({
      model: 'via-claude',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
      tools: [weatherTool],
      temperature: 0,
      max_output_tokens: 8,
    });
    assertResponse(second);
    assert.ok(second.usage!.input_tokens > first.usage!.input_tokens);
  });
});
