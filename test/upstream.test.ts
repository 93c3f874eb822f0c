import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { schemaErrors } from './support/openapi.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// The upstream providers against a real peer: a second llmsvc instance on loopback speaks both
// OpenAI's API (for the openai and openai-compatible providers) and Anthropic's (for anthropic).

/** The upstream's key, handed to the gateway through the env var its config names. */
const upstreamKeyEnv = { UP_KEY: testAdminKey };
const deadUrl = 'http://127.0.0.1:9/v1'; // the discard port: connection refused

let upstream: TestServer;
let gateway: TestServer;
let direct: OpenAI;
let client: OpenAI;

const deterministic = { temperature: 0, seed: 7, max_tokens: 12 } as const;
const question = [{ role: 'user' as const, content: 'Name three colours.' }];

before(async () => {
  upstream = await startTestServer({ context_size: 512 });
  const up = `${upstream.url}/v1`;
  gateway = await startTestServer(
    {
      context_size: 512,
      providers: [
        { id: 'up', type: 'openai-compatible', base_url: up, api_key_env: 'UP_KEY', models: [tinyModelId] },
        { id: 'oai', type: 'openai', base_url: up, api_key_env: 'UP_KEY' },
        { id: 'claude', type: 'anthropic', base_url: upstream.url, api_key_env: 'UP_KEY' },
        { id: 'dead', type: 'openai-compatible', base_url: deadUrl, resilience: { max_retries: 1, retry_base_ms: 10, connect_timeout_ms: 500 } },
      ],
      routes: [
        { model: 'team-default', targets: [{ provider: 'up', model: tinyModelId }] },
        { model: 'via-openai', targets: [{ provider: 'oai', model: tinyModelId }] },
        { model: 'via-claude', targets: [{ provider: 'claude', model: tinyModelId }] },
        { model: 'dead-then-local', targets: [{ provider: 'dead', model: 'x' }, { provider: 'local', model: tinyModelId }] },
        { model: 'dead-only', targets: [{ provider: 'dead', model: 'x' }] },
        { model: 'missing-upstream-model', targets: [{ provider: 'up', model: 'no-such-model' }] },
      ],
    },
    upstreamKeyEnv,
  );
  direct = new OpenAI({ baseURL: `${upstream.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

describe('openai-compatible, openai and anthropic providers against a second llmsvc', () => {
  test('a routed chat answers exactly as the upstream does, usage included, in OpenAI’s schema', async () => {
    const expected = await direct.chat.completions.create({ model: tinyModelId, messages: question, ...deterministic });
    for (const model of ['team-default', 'via-openai', `up/${tinyModelId}`]) {
      const routed = await client.chat.completions.create({ model, messages: question, ...deterministic });
      assert.deepEqual(schemaErrors('CreateChatCompletionResponse', routed), [], model);
      assert.equal(routed.model, model, 'the response names the model the client asked for');
      assert.equal(routed.choices[0]!.message.content, expected.choices[0]!.message.content, model);
      assert.equal(routed.choices[0]!.finish_reason, expected.choices[0]!.finish_reason, model);
      assert.deepEqual(routed.usage, expected.usage, `${model}: the upstream's exact usage`);
    }
  });

  test('a routed stream arrives as chunks with the upstream’s text and usage', async () => {
    const expected = await direct.chat.completions.create({ model: tinyModelId, messages: question, ...deterministic });
    const stream = await client.chat.completions.create({ model: 'team-default', messages: question, ...deterministic, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      assert.deepEqual(schemaErrors('CreateChatCompletionStreamResponse', chunk), []);
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks > 2, 'several chunks, not one buffered answer');
    assert.equal(text, expected.choices[0]!.message.content);
    assert.deepEqual(usage, expected.usage);
  });

  test('the anthropic provider speaks to the upstream’s /v1/messages, for both fronts', async () => {
    const anthropicDirect = new Anthropic({ baseURL: upstream.url, apiKey: testAdminKey, maxRetries: 0 });
    const expected = await anthropicDirect.messages.create({ model: tinyModelId, max_tokens: 12, temperature: 0, messages: question });
    const expectedText = expected.content.map((block) => (block.type === 'text' ? block.text : '')).join('');

    const viaOpenAiFront = await client.chat.completions.create({ model: 'via-claude', messages: question, temperature: 0, max_tokens: 12 });
    assert.deepEqual(schemaErrors('CreateChatCompletionResponse', viaOpenAiFront), []);
    assert.equal(viaOpenAiFront.choices[0]!.message.content, expectedText);
    assert.equal(viaOpenAiFront.usage!.prompt_tokens, expected.usage.input_tokens, 'exact input tokens from message_start');
    assert.equal(viaOpenAiFront.usage!.completion_tokens, expected.usage.output_tokens);

    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: testAdminKey, maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'via-claude', max_tokens: 12, temperature: 0, messages: question });
    const message = await stream.finalMessage();
    assert.equal(message.content.map((block) => (block.type === 'text' ? block.text : '')).join(''), expectedText);
    assert.equal(message.stop_reason, expected.stop_reason);
    assert.equal(message.usage.input_tokens, expected.usage.input_tokens);

    const counted = await anthropic.messages.countTokens({ model: 'via-claude', messages: question });
    assert.equal(counted.input_tokens, expected.usage.input_tokens, 'count_tokens asks the upstream');
  });

  test('logit_bias reaches OpenAI-style upstreams; the anthropic provider refuses it with a 400', async () => {
    const forceHello = { logit_bias: { 22172: 100 } }; // 'hello' in the tiny model's vocabulary
    const expected = await direct.chat.completions.create({ model: tinyModelId, messages: question, ...deterministic, ...forceHello });
    assert.match(expected.choices[0]!.message.content!, /^hello( hello){11}$/);
    for (const model of ['team-default', 'via-openai', `up/${tinyModelId}`]) {
      const routed = await client.chat.completions.create({ model, messages: question, ...deterministic, ...forceHello });
      assert.equal(routed.choices[0]!.message.content, expected.choices[0]!.message.content, model);
    }
    const legacy = await client.completions.create({ model: 'team-default', prompt: 'x', ...deterministic, ...forceHello });
    assert.match(legacy.choices[0]!.text, /^hello( hello){11}$/);
    await assert.rejects(client.chat.completions.create({ model: 'via-claude', messages: question, ...deterministic, ...forceHello }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.BadRequestError, String(error));
      assert.equal(error.code, 'model_not_supported');
      assert.equal(error.param, 'logit_bias');
      return true;
    });
  });

  test('tool calls cross both upstream protocols and come back in OpenAI’s shape', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'set_light', parameters: { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] } } },
    ];
    for (const model of ['team-default', 'via-claude']) {
      const completion = await client.chat.completions.create({
        model,
        messages: [{ role: 'user', content: 'Lights on, please.' }],
        tools,
        tool_choice: { type: 'function', function: { name: 'set_light' } },
        max_tokens: 40,
        temperature: 0,
      });
      assert.deepEqual(schemaErrors('CreateChatCompletionResponse', completion), [], model);
      const choice = completion.choices[0]!;
      assert.equal(choice.finish_reason, 'tool_calls', model);
      const call = choice.message.tool_calls![0]!;
      assert.equal(call.type === 'function' && call.function.name, 'set_light', model);
      const args = JSON.parse(call.type === 'function' ? call.function.arguments : '') as { on: unknown };
      assert.equal(typeof args.on, 'boolean', `${model}: arguments satisfy the schema`);
    }
  });

  test('embeddings through an upstream equal the upstream’s own', async () => {
    const expected = await direct.embeddings.create({ model: tinyModelId, input: ['alpha', 'beta'] });
    const routed = await client.embeddings.create({ model: `up/${tinyModelId}`, input: ['alpha', 'beta'] });
    assert.deepEqual(schemaErrors('CreateEmbeddingResponse', routed), []);
    assert.deepEqual(routed.data.map((item) => item.embedding), expected.data.map((item) => item.embedding));
    assert.equal(routed.usage.prompt_tokens, expected.usage.prompt_tokens);
  });

  test('GET /v1/models lists local models, routes and the upstream models the config names', async () => {
    const ids = (await client.models.list()).data.map((model) => model.id);
    for (const id of [tinyModelId, 'team-default', 'via-claude', `up/${tinyModelId}`]) assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  });
});

describe('failures', () => {
  test('an unreachable first target falls back to the local model', async () => {
    const reply = await client.chat.completions.create({ model: 'dead-then-local', messages: question, ...deterministic });
    assert.ok(reply.choices[0]!.message.content);
    const metrics = await (await authedFetch(`${gateway.url}/metrics`)).text();
    assert.match(metrics, /llmsvc_upstream_attempt_failures_total\{upstream="dead",kind="connection",next="fallback"\} [1-9]/);
  });

  test('when every target fails, the client gets a 502 in OpenAI’s shape that says what to do', async () => {
    const error = await client.chat.completions.create({ model: 'dead-only', messages: question }).catch((caught: unknown) => caught);
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 502);
    assert.equal(error.code, 'upstream_unavailable');
    assert.match(error.message, /dead/);
  });

  test('a request the upstream rejects is a 400 carrying the upstream’s reason, not retried', async () => {
    const error = await client.chat.completions.create({ model: 'missing-upstream-model', messages: question }).catch((caught: unknown) => caught);
    assert.ok(error instanceof OpenAI.APIError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'upstream_rejected');
    assert.match(error.message, /no-such-model/);
  });

  test('the upstream’s key never appears in the gateway’s logs', async () => {
    assert.ok(!gateway.logs().includes(testAdminKey.slice(10)), 'no secret in any log line');
  });
});

/** Chat requests the upstream has logged so far. */
function upstreamChatCalls(): number {
  return upstream.logs().split('\n').filter((line) => line.includes('"url":"/v1/chat/completions"')).length;
}

describe('egress control', () => {
  test('--offline refuses upstream-only models with a 403 and serves routes that can fall back to local', async () => {
    const offline = await startTestServer(
      {
        offline: true,
        context_size: 512,
        providers: [{ id: 'up', type: 'openai-compatible', base_url: `${upstream.url}/v1` }],
        routes: [
          { model: 'cloud-only', targets: [{ provider: 'up', model: tinyModelId }] },
          { model: 'cloud-then-local', targets: [{ provider: 'up', model: tinyModelId }, { provider: 'local', model: tinyModelId }] },
        ],
      },
      {},
    );
    try {
      const offlineClient = new OpenAI({ baseURL: `${offline.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const error = await offlineClient.chat.completions.create({ model: 'cloud-only', messages: question }).catch((caught: unknown) => caught);
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 403);
      assert.equal(error.code, 'egress_blocked');
      assert.match(error.message, /offline/);
      const upstreamCallsBefore = upstreamChatCalls();
      const reply = await offlineClient.chat.completions.create({ model: 'cloud-then-local', messages: question, max_tokens: 4 });
      assert.ok(reply.choices[0]);
      assert.equal(upstreamChatCalls(), upstreamCallsBefore, 'nothing left the machine');
    } finally {
      await offline.stop();
    }
  });

  test('an egress allowlist refuses upstreams on other hosts', async () => {
    const fenced = await startTestServer(
      {
        egress_allowlist: ['api.example.com'],
        providers: [{ id: 'up', type: 'openai-compatible', base_url: `${upstream.url}/v1` }],
        routes: [{ model: 'fenced', targets: [{ provider: 'up', model: tinyModelId }] }],
      },
      {},
    );
    try {
      const response = await authedFetch(`${fenced.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fenced', messages: question }),
      });
      assert.equal(response.status, 403);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'egress_blocked');
      assert.match(body.error.message, /allowlist/);
    } finally {
      await fenced.stop();
    }
  });
});
