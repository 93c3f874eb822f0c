import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { getLlama } from 'node-llama-cpp';
import { Agent, fetch as undiciFetch } from 'undici';
import { minimumTokenCount } from '../core/providers/llama/promptBound.js';
import { waitFor } from './support/wait.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, tinyModelPath, type TestServer } from './support/server.js';

// Issue 12, item 1: a 2 MiB body of "😀" took minutes to tokenize on the runtime thread (llama.cpp's
// tokenizer is quadratic on such runs) before being refused as too long, and every other request
// to the model waited. The bounds below are generous (CI noise must not flake them); the figures
// measured are printed as diagnostics.

let server: TestServer;

before(async () => {
  server = await startTestServer({ context_size: 512 });
});
after(() => server.stop());

/** 524,288 × "😀": 2 MiB of UTF-8, under the 4 MiB body limit. */
const emojiRun = '😀'.repeat(512 * 1024);

function post(path: string, body: unknown, signal?: AbortSignal) {
  return authedFetch(`${server.url}${path}`, {
    method: 'POST',
    // Anthropic's routes answer in Anthropic's error shape; OpenAI's in OpenAI's.
    headers: { 'content-type': 'application/json', ...(path.startsWith('/v1/messages') ? { 'anthropic-version': '2023-06-01' } : {}) },
    body: JSON.stringify(body),
    signal,
  });
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

const smallChat = () =>
  post('/v1/chat/completions', { model: tinyModelId, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, seed: 7, temperature: 0 }).then(async (response) => ({
    status: response.status,
    body: (await response.json()) as { choices?: unknown[] },
  }));

const routes = [
  { path: '/v1/chat/completions', body: { model: tinyModelId, messages: [{ role: 'user', content: emojiRun }], max_tokens: 2 } },
  { path: '/v1/completions', body: { model: tinyModelId, prompt: emojiRun, max_tokens: 2 } },
  { path: '/v1/embeddings', body: { model: tinyModelId, input: emojiRun } },
  { path: '/v1/messages/count_tokens', body: { model: tinyModelId, messages: [{ role: 'user', content: emojiRun }] } },
];

describe('a 2 MiB run of emoji no longer stalls the model', () => {
  for (const { path, body } of routes) {
    test(`${path} refuses it with context_length_exceeded at once, and a concurrent small chat completes meanwhile`, async (t) => {
      await smallChat(); // the model is loaded before anything is timed
      const big = timed(async () => {
        const response = await post(path, body);
        return { status: response.status, body: (await response.json()) as { error: { code?: string; type: string; message: string } } };
      });
      const small = await timed(smallChat);
      const { value: refused, ms } = await big;
      t.diagnostic(`${path}: refused in ${ms.toFixed(0)} ms; a small chat sent alongside took ${small.ms.toFixed(0)} ms`);

      assert.equal(refused.status, 400);
      if (path === '/v1/messages/count_tokens') assert.equal(refused.body.error.type, 'invalid_request_error'); // Anthropic's shape has no code
      else assert.equal(refused.body.error.code, 'context_length_exceeded');
      assert.match(refused.body.error.message, /at least \d+ tokens/);
      assert.match(refused.body.error.message, path === '/v1/embeddings' ? /Split the input/ : /prompt is too long/);
      assert.ok(ms < 5000, `refused in ${ms.toFixed(0)} ms; tokenizing it all took minutes`);

      assert.equal(small.value.status, 200);
      assert.equal(small.value.body.choices?.length, 1);
      assert.ok(small.ms < 5000, `the small chat took ${small.ms.toFixed(0)} ms`);
    });
  }
});

test('count_tokens still counts exactly a text just under the context, whether of the longest tokens or of emoji', async () => {
  // " административ" is the vocabulary's longest token (27 bytes), and an emoji is 4 byte tokens:
  // the bound is tightest on each, and must still let a prompt that fits through to the exact count.
  for (const [text, words] of [[' административ'.repeat(480), 480], ['😀'.repeat(120), 480]] as const) {
    const messages = [{ role: 'user', content: text }];
    const counted = await post('/v1/messages/count_tokens', { model: tinyModelId, messages });
    assert.equal(counted.status, 200);
    const { input_tokens: inputTokens } = (await counted.json()) as { input_tokens: number };
    assert.ok(inputTokens >= words && inputTokens < 512, `${inputTokens} tokens: just under the 512-token context`);

    // The same number /v1/messages evaluates.
    const answered = await post('/v1/messages', { model: tinyModelId, messages, max_tokens: 512 - inputTokens, temperature: 0 });
    assert.equal(answered.status, 200);
    assert.equal(((await answered.json()) as { usage: { input_tokens: number } }).usage.input_tokens, inputTokens);
  }
});

test('count_tokens still counts a prompt past the context exactly when the bound cannot rule it out', async () => {
  // 200 emoji: at least 200 tokens by the bound, 800 in fact, past the 512-token context. Counted
  // (count_tokens counts prompts of any length it can afford to tokenize), as before.
  const counted = await post('/v1/messages/count_tokens', { model: tinyModelId, messages: [{ role: 'user', content: '😀'.repeat(200) }] });
  assert.equal(counted.status, 200);
  const { input_tokens: inputTokens } = (await counted.json()) as { input_tokens: number };
  assert.ok(inputTokens > 800 && inputTokens < 820, `${inputTokens} tokens`);
});

test('an embeddings request the client abandons stops working in the runtime thread', async (t) => {
  // A client of its own, closed at the end: an aborted request can leave the client with a fresh
  // connection that never sends a request, which the server would wait for (its headers timeout,
  // a minute) when the test server stops.
  const agent = new Agent();
  t.after(() => agent.destroy());
  const embed = (inputs: string[], signal?: AbortSignal) =>
    undiciFetch(`${server.url}/v1/embeddings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${testAdminKey}` },
      body: JSON.stringify({ model: tinyModelId, input: inputs }),
      signal,
      dispatcher: agent,
    });
  const embedded = async () => (await server.service.runtimeStats()).models[tinyModelId]!.embeddedInputs;
  // Inputs of ~400 tokens each, embedded one after another (256 of them take tens of seconds).
  const input = 'The quick brown fox jumps over the lazy dog. '.repeat(40);
  await (await embed([input])).arrayBuffer(); // the embedding context is made before anything is watched

  const client = new AbortController();
  const before = await embedded();
  const abandoned = embed(Array(256).fill(input), client.signal).catch((error: Error) => error);
  assert.ok(await waitFor(async () => (await embedded()) > before), 'the batch started');
  client.abort();
  assert.equal(((await abandoned) as Error).name, 'AbortError');

  // Within a moment of the hang-up the count stops: at most the input being embedded finishes.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const atStop = await embedded();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const later = await embedded();
  t.diagnostic(`the abandoned batch embedded ${atStop - before} of its 256 inputs`);
  assert.equal(later, atStop, 'the runtime thread went on embedding the abandoned batch');
  assert.ok(atStop - before < 256, 'the whole batch was embedded');

  // And the model still serves.
  const next = await embed(['hello']);
  assert.equal(next.status, 200);
  assert.equal(((await next.json()) as { data: unknown[] }).data.length, 1);
});

test("the lower bound on a text's tokens never exceeds the tokenizer's own count", async () => {
  // The bound refuses requests without tokenizing them: it must be sound for every text, or a
  // prompt that fits would be refused. Seeded mixes of the character classes it weighs apart.
  const llama = await getLlama({ gpu: false, build: 'never' });
  const model = await llama.loadModel({ modelPath: tinyModelPath });
  try {
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = () => {
      const r = random();
      if (r < 0.25) return String.fromCodePoint(0x1f600 + Math.floor(random() * 80)); // emoji, 4 bytes
      if (r < 0.45) return String.fromCodePoint(0x4e00 + Math.floor(random() * 2000)); // CJK, 3 bytes
      if (r < 0.6) return String.fromCodePoint(0x430 + Math.floor(random() * 32)); // Cyrillic, 2 bytes
      if (r < 0.62) return '\uD800'; // a lone surrogate
      return String.fromCharCode(32 + Math.floor(random() * 95));
    };
    const texts = ['😀'.repeat(2000), ' административ'.repeat(200), 'x'.repeat(5000), ' \n\t'.repeat(300), '中文'.repeat(500)];
    for (let i = 0; i < 200; i++) texts.push(Array.from({ length: 1 + Math.floor(random() * 300) }, pick).join(''));
    for (const text of texts) {
      const bound = minimumTokenCount(model, text);
      const tokens = model.tokenize(text).length;
      assert.ok(bound <= tokens, `bound ${bound} > ${tokens} tokens for ${JSON.stringify(text.slice(0, 40))}`);
    }
    // And it is tight where it matters: a run of emoji is bounded near its real count.
    assert.ok(minimumTokenCount(model, '😀'.repeat(1000)) >= 1000);
  } finally {
    await model.dispose();
    await llama.dispose();
  }
});
