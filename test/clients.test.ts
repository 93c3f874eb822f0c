import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import { authedFetch, sqliteDbOf, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// Popular client libraries, used as their documentation says, unchanged but for the base URL and
// key, against llmsvc on the tiny model: the Vercel AI SDK (its default provider calls the
// Responses API; .chat() calls chat completions) and LangChain's ChatOpenAI (chat completions,
// or the Responses API with useResponsesApi). The tiny model's text is random: these tests check
// that each library gets a well-formed answer it understands (text, finish reason, usage).

let server: TestServer;

before(async () => {
  server = await startTestServer({ context_size: 512 });
});
after(() => server.stop());

const prompt = 'Say hello.';

/** The routes of the requests the server logged while `run` ran: proof of which API a library called. */
async function routesCalled(run: () => Promise<void>): Promise<string[]> {
  const { store } = server.service;
  const db = sqliteDbOf(store);
  const lastRow = () => (db.prepare('SELECT max(rowid) AS last FROM request_log').get() as { last: number | null }).last ?? 0;
  await store.ledger.flush();
  const from = lastRow();
  await run();
  await store.ledger.flush();
  const rows = db.prepare('SELECT route FROM request_log WHERE rowid > ? ORDER BY rowid').all(from) as { route: string }[];
  return [...new Set(rows.map((row) => row.route))];
}

describe('Vercel AI SDK (ai 6, @ai-sdk/openai 3)', () => {
  const openai = () => createOpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey });

  for (const [api, model, route] of [
    ['Responses API (the default provider)', () => openai()(tinyModelId), '/v1/responses'],
    ['chat completions (openai.chat)', () => openai().chat(tinyModelId), '/v1/chat/completions'],
  ] as const) {
    test(`generateText and streamText through the ${api}`, async () => {
      const routes = await routesCalled(async () => {
        const generated = await generateText({ model: model(), prompt, maxOutputTokens: 8, temperature: 0, seed: 4, maxRetries: 0 });
        assert.equal(typeof generated.text, 'string');
        assert.ok(['stop', 'length'].includes(generated.finishReason), generated.finishReason);
        assert.ok((generated.usage.inputTokens ?? 0) > 0, 'usage is read');
        assert.ok((generated.usage.outputTokens ?? 0) > 0);

        const streamed = streamText({ model: model(), prompt, maxOutputTokens: 8, temperature: 0, seed: 4, maxRetries: 0, onError: ({ error }) => assert.fail(String(error)) });
        let text = '';
        for await (const delta of streamed.textStream) text += delta;
        assert.equal(text, await streamed.text);
        assert.equal(text, generated.text, 'greedy decoding: the stream says what generateText said');
        assert.ok(['stop', 'length'].includes(await streamed.finishReason));
        assert.equal((await streamed.usage).outputTokens, generated.usage.outputTokens);
      });
      assert.deepEqual(routes, [route]);
    });
  }

  test('a forced tool call through the Responses API comes back as the SDK’s tool call, its input parsed', async () => {
    const weather = tool({
      description: 'The weather in a city',
      inputSchema: jsonSchema<{ city: 'Paris' | 'Oslo' }>({ type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false }),
    });
    const result = await generateText({ model: openai()(tinyModelId), prompt: 'Weather in Oslo?', tools: { weather }, toolChoice: { type: 'tool', toolName: 'weather' }, temperature: 0, maxOutputTokens: 30, maxRetries: 0 });
    assert.equal(result.finishReason, 'tool-calls');
    assert.equal(result.toolCalls.length, 1);
    assert.equal(result.toolCalls[0]!.toolName, 'weather');
    assert.ok(['Paris', 'Oslo'].includes((result.toolCalls[0]!.input as { city: string }).city));
  });

  test('an agent loop through the Responses API: the model calls a tool, the SDK runs it and sends the result back', async () => {
    const weather = tool({
      description: 'The weather in a city',
      inputSchema: jsonSchema<{ city: 'Paris' | 'Oslo' }>({ type: 'object', properties: { city: { type: 'string', enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false }),
      execute: async ({ city }) => `sunny in ${city}`,
    });
    const result = await generateText({
      model: openai()(tinyModelId),
      prompt: 'Weather?',
      tools: { weather },
      // Call first, then answer: a random model would not choose either on its own.
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none' }),
      stopWhen: stepCountIs(2),
      temperature: 0,
      maxOutputTokens: 60,
      maxRetries: 0,
    });
    assert.equal(result.steps.length, 2);
    const [call, answer] = result.steps;
    assert.equal(call!.toolResults.length, 1);
    assert.match(String(call!.toolResults[0]!.output), /^sunny in (Paris|Oslo)$/);
    assert.equal(answer!.toolCalls.length, 0);
    // The second request carried the call and its result: llmsvc stored them as that response's input.
    const items = (await (await authedFetch(`${server.url}/v1/responses/${answer!.response.id}/input_items?order=asc`)).json()) as { data: { type: string; output?: string }[] };
    assert.deepEqual(
      items.data.map((item) => item.type),
      ['message', 'function_call', 'function_call_output'],
    );
    assert.equal(items.data[2]!.output, call!.toolResults[0]!.output);
  });
});

describe('LangChain JS (@langchain/openai ChatOpenAI)', () => {
  for (const useResponsesApi of [false, true]) {
    test(`invoke and stream${useResponsesApi ? ' with useResponsesApi' : ''}`, async () => {
      const routes = await routesCalled(async () => {
        const chat = new ChatOpenAI({
          model: tinyModelId,
          apiKey: testAdminKey,
          configuration: { baseURL: `${server.url}/v1` },
          temperature: 0,
          maxTokens: 8,
          maxRetries: 0,
          useResponsesApi,
      });
      const message = await chat.invoke([
        ['system', 'Be brief.'],
        ['human', prompt],
      ]);
      assert.equal(typeof message.content === 'string' ? message.content : message.text, message.text);
      assert.ok((message.usage_metadata?.input_tokens ?? 0) > 0, 'usage is read');
      let streamed = '';
      for await (const chunk of await chat.stream([
        ['system', 'Be brief.'],
        ['human', prompt],
      ])) {
        streamed += chunk.text;
      }
      assert.equal(streamed, message.text, 'greedy decoding: the stream says what invoke said');
      });
      assert.deepEqual(routes, [useResponsesApi ? '/v1/responses' : '/v1/chat/completions']);
    });
  }
});
