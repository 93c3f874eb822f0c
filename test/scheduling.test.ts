import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import OpenAI from 'openai';
import { synthesizeModel } from '../models/synth/index.js';
import { authedFetch, startTestServer, tempDir, testAdminKey, tinyModelId, tinyModelPath, type TestServer } from './support/server.js';
import { settledMemory, type MemorySample } from './support/memory.js';
import { waitFor } from './support/wait.js';

async function withServer(settings: Parameters<typeof startTestServer>[0], run: (server: TestServer) => Promise<void>) {
  const server = await startTestServer(settings);
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

async function userKey(server: TestServer, name: string): Promise<string> {
  const response = await authedFetch(`${server.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  return ((await response.json()) as { key: string }).key;
}

const clientFor = (server: TestServer, apiKey = testAdminKey) => new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });

test('16 concurrent streams on 4 sequences all complete with exact usage', async () => {
  await withServer({ parallel: 4, context_size: 512 }, async (server) => {
    const client = clientFor(server);
    const results = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const stream = await client.chat.completions.create({
          model: tinyModelId,
          messages: [{ role: 'user', content: `stream ${i}` }],
          max_tokens: 20 + i,
          // Seeded: an unseeded sample may draw end-of-sequence early and end short of max_tokens.
          seed: 1000 + i,
          stream: true,
          stream_options: { include_usage: true },
        });
        let usage: OpenAI.CompletionUsage | undefined;
        for await (const chunk of stream) usage = chunk.usage ?? usage;
        return { expected: 20 + i, usage };
      }),
    );
    for (const { expected, usage } of results) assert.equal(usage?.completion_tokens, expected);
    const metrics = await (await authedFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`llmsvc_queue_wait_seconds_count\\{model="${tinyModelId}"\\} 16`));
    assert.match(metrics, new RegExp(`llmsvc_active_sequences\\{model="${tinyModelId}"\\} 0`));
    assert.match(metrics, new RegExp(`llmsvc_decode_tokens_per_second_count\\{model="${tinyModelId}"\\} 16`));
  });
});

test('a request arriving while long generations run gets its first token before they finish, even on a used sequence', async () => {
  const longStreams = 4;
  const longMaxTokens = 800;
  await withServer({ parallel: longStreams + 1, context_size: 1024 }, async (server) => {
    const client = clientFor(server);
    // Use every sequence once, so the newcomer lands on one that holds another prompt's tokens and
    // must erase them first: that erase needs the context's lock, which the decode loop held until
    // all running generations ended (node-llama-cpp 3.21.1, before the yielding dispatch).
    await Promise.all(
      Array.from({ length: longStreams + 1 }, (_, i) => client.completions.create({ model: tinyModelId, prompt: `warm-up ${i} fills a sequence`, max_tokens: 4 })),
    );
    const received = Array.from({ length: longStreams }, () => 0);
    let receivedWhenNewcomerStarted: number | undefined;
    const long = Array.from({ length: longStreams }, async (_, i) => {
      const stream = await client.completions.create({ model: tinyModelId, prompt: `long ${i}`, max_tokens: longMaxTokens, temperature: 0, stream: true });
      for await (const chunk of stream) if (chunk.choices[0]?.text) received[i]!++;
    });
    const total = () => received.reduce((sum, n) => sum + n, 0);
    assert.ok(await waitFor(() => received.every((n) => n >= 5)), 'the long generations are all under way');
    const newcomer = await client.completions.create({ model: tinyModelId, prompt: 'a newcomer with its own question', max_tokens: 5, stream: true });
    for await (const chunk of newcomer) if (chunk.choices[0]?.text) receivedWhenNewcomerStarted ??= total();
    await Promise.all(long);
    assert.ok(receivedWhenNewcomerStarted !== undefined, 'the newcomer got text');
    // Joined at a decode step while the long ones still had most of their text to go, not after them.
    assert.ok(receivedWhenNewcomerStarted < total() / 2, `the long streams had sent ${receivedWhenNewcomerStarted} of their ${total()} chunks before the newcomer's first`);
  });
});

test("a flood from one key does not starve another key's single request", async () => {
  await withServer({ parallel: 1, context_size: 512 }, async (server) => {
    const flooder = clientFor(server, await userKey(server, 'flooder'));
    const lone = clientFor(server, await userKey(server, 'lone'));
    const finished: string[] = [];
    const flood = Array.from({ length: 20 }, (_, i) =>
      flooder.completions.create({ model: tinyModelId, prompt: `flood ${i}`, max_tokens: 40, seed: i }).then(() => finished.push(`flood-${i}`)),
    );
    // Let the flood queue up first.
    await waitFor(async () => /llmsvc_queue_depth\{model="[^"]+"\} (1[5-9]|[2-9]\d)/.test(await (await authedFetch(`${server.url}/metrics`)).text()));
    await lone.completions.create({ model: tinyModelId, prompt: 'just me', max_tokens: 40, seed: 1 });
    const floodDoneBeforeLone = finished.length;
    await Promise.all(flood);
    // The lone request waited for the one in progress and at most one more, not for all 20.
    assert.ok(floodDoneBeforeLone <= 2, `${floodDoneBeforeLone} flood requests finished before the lone one`);
  });
});

test('within one key, the users behind it share fairly', async () => {
  await withServer({ parallel: 1, context_size: 512 }, async (server) => {
    const app = clientFor(server, await userKey(server, 'team-app'));
    const finished: string[] = [];
    const busy = Array.from({ length: 12 }, (_, i) =>
      app.completions.create({ model: tinyModelId, prompt: `busy ${i}`, max_tokens: 40, seed: i, user: 'busy-person' }).then(() => finished.push('busy')),
    );
    await waitFor(async () => /llmsvc_queue_depth\{model="[^"]+"\} (9|1\d)/.test(await (await authedFetch(`${server.url}/metrics`)).text()));
    await app.completions.create({ model: tinyModelId, prompt: 'other', max_tokens: 40, seed: 1, user: 'other-person' });
    assert.ok(finished.length <= 2, `${finished.length} of the busy user's requests finished first`);
    await Promise.all(busy);
  });
});

test('background work waits for interactive work', async () => {
  await withServer({ parallel: 1, context_size: 512 }, async (server) => {
    const client = clientFor(server);
    const order: string[] = [];
    const background = Array.from({ length: 6 }, (_, i) =>
      client.completions
        .create({ model: tinyModelId, prompt: `bg ${i}`, max_tokens: 30, seed: i }, { headers: { 'x-llmsvc-priority': 'background' } })
        .then(() => order.push('background')),
    );
    await waitFor(async () => /llmsvc_queue_depth\{model="[^"]+"\} [3-9]/.test(await (await authedFetch(`${server.url}/metrics`)).text()));
    await client.completions.create({ model: tinyModelId, prompt: 'now', max_tokens: 30, seed: 1 });
    order.push('interactive');
    await Promise.all(background);
    assert.ok(order.indexOf('interactive') <= 2, `interactive finished at position ${order.indexOf('interactive')}`);
    await assert.rejects(
      client.completions.create({ model: tinyModelId, prompt: 'x', max_tokens: 1 }, { headers: { 'x-llmsvc-priority': 'urgent' } }),
      (error: unknown) => error instanceof OpenAI.BadRequestError && error.param === 'x-llmsvc-priority',
    );
  });
});

test('a full queue is a 429 with Retry-After, never an unbounded wait', async () => {
  await withServer({ parallel: 1, max_queue: 2, context_size: 1024 }, async (server) => {
    const client = clientFor(server);
    const long = () => client.completions.create({ model: tinyModelId, prompt: 'long', max_tokens: 900, seed: 900 });
    const running = [long(), long(), long()]; // one generating, two queued
    await waitFor(async () => /llmsvc_queue_depth\{model="[^"]+"\} 2/.test(await (await authedFetch(`${server.url}/metrics`)).text()));
    await assert.rejects(long(), (error: unknown) => {
      assert.ok(error instanceof OpenAI.RateLimitError);
      assert.equal(error.code, 'queue_full');
      assert.ok(Number(error.headers?.get('retry-after')) >= 1);
      assert.match(error.message, /busy: 1 requests are generating and 2 are waiting/);
      return true;
    });
    // Streaming requests get the same plain 429: the stream opens only with the first token.
    await assert.rejects(
      client.completions.create({ model: tinyModelId, prompt: 'x', max_tokens: 5, stream: true }).then(async (stream) => {
        for await (const _ of stream);
      }),
      OpenAI.RateLimitError,
    );
    const done = await Promise.all(running);
    assert.ok(done.every((r) => r.usage!.completion_tokens === 900));
  });
});

test('disconnects free their sequences: 1,000 connect-and-drop cycles leave none held and memory flat', async () => {
  await withServer({ parallel: 1, context_size: 1024 }, async (server) => {
    const client = clientFor(server);
    const stats = async () => (await server.service.runtimeStats()).models[tinyModelId];
    const dropOne = async (i: number) => {
      const controller = new AbortController();
      const stream = await client.completions.create(
        { model: tinyModelId, prompt: `drop ${i}`, max_tokens: 800, stream: true },
        { signal: controller.signal },
      );
      for await (const _ of stream) break; // first chunk, then hang up
      controller.abort();
    };
    // Warm up first (model load, JIT, pools), then measure the growth over the rest.
    for (let i = 0; i < 100; i++) await dropOne(i);
    const afterWarmUp = settledMemory();
    // RSS moves by tens of MiB as the allocator keeps and returns freed pages (a CI run once saw
    // +72 MiB from one sample). A leak raises every later sample, so the lowest of the last four
    // is the growth that stays.
    const lateSamples: MemorySample[] = [];
    for (let i = 100; i < 1000; i++) {
      await dropOne(i);
      if (i >= 600 && i % 100 === 99) lateSamples.push(settledMemory());
    }
    assert.ok(await waitFor(async () => (await stats())?.active === 0 && (await stats())?.queued === 0), 'every sequence is free again');
    // The one sequence is free at once: the next request is not stuck behind a dropped one.
    const next = await client.completions.create({ model: tinyModelId, prompt: 'after', max_tokens: 3, seed: 3 });
    assert.equal(next.usage!.completion_tokens, 3);
    const rssGrowthMb = Math.min(...lateSamples.map((sample) => sample.rssMb)) - afterWarmUp.rssMb;
    assert.ok(rssGrowthMb < 64, `memory grew by ${rssGrowthMb.toFixed(0)} MiB over 900 dropped streams after warm-up`);
    // The JavaScript heap holds only the limiter's one-minute window (a few dozen bytes a request).
    const heapGrowthMb = Math.min(...lateSamples.map((sample) => sample.heapUsedMb)) - afterWarmUp.heapUsedMb;
    assert.ok(heapGrowthMb < 8, `the JavaScript heap grew by ${heapGrowthMb.toFixed(1)} MiB over 900 dropped streams`);
  });
});

test('a chat follow-up reuses the evaluated prefix of its conversation', async () => {
  await withServer({ parallel: 4, context_size: 1024 }, async (server) => {
    const client = clientFor(server);
    const evaluatedTokens = async () => (await server.service.runtimeStats()).models[tinyModelId]!.evaluatedTokens;
    const system = { role: 'system' as const, content: 'You are a helpful assistant. '.repeat(20) };
    const turn1 = await client.chat.completions.create({ model: tinyModelId, messages: [system, { role: 'user', content: 'First question' }], max_tokens: 10, seed: 1 });
    // Another conversation in between takes a different sequence.
    await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'unrelated' }], max_tokens: 10 });
    const before = await evaluatedTokens();
    const turn2 = await client.chat.completions.create({
      model: tinyModelId,
      messages: [system, { role: 'user', content: 'First question' }, { role: 'assistant', content: turn1.choices[0]!.message.content! }, { role: 'user', content: 'Second' }],
      max_tokens: 10,
    });
    const evaluated = (await evaluatedTokens()) - before;
    const prompt = turn2.usage!.prompt_tokens;
    // Without reuse the whole prompt (plus the 10 generated tokens) would be evaluated again.
    assert.ok(evaluated < prompt / 2, `evaluated ${evaluated} tokens for a ${prompt}-token prompt`);
  });
});

test('a model that cannot fit in memory is refused with the numbers, and the server keeps serving', async () => {
  const modelsDir = tempDir();
  // A model of SmolLM's shape that declares a 4M-token training context.
  await synthesizeModel({ outFile: path.join(modelsDir, 'big-context.gguf'), preset: 'small', seed: 1, contextLength: 4_000_000 });
  fs.copyFileSync(tinyModelPath, path.join(modelsDir, 'tiny.gguf'));
  // Four sequences of 4M tokens of this shape need far more memory than any workstation has.
  await withServer({ models_dir: modelsDir, parallel: 4, context_size: 4_000_000 }, async (server) => {
    const client = clientFor(server);
    await assert.rejects(client.completions.create({ model: 'big-context', prompt: 'x', max_tokens: 1 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 507);
      assert.equal(error.code, 'insufficient_memory');
      assert.match(error.message, /needs about [\d.]+ GiB .* [\d.]+ GiB (is )?free/);
      return true;
    });
    const ok = await client.completions.create({ model: 'tiny', prompt: 'still here', max_tokens: 2, seed: 2 });
    assert.equal(ok.usage!.completion_tokens, 2);
  });
});
