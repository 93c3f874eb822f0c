import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { autoParallelCandidates } from '../core/runtimes/index.js';
import OpenAI from 'openai';
import { waitFor } from './support/wait.js';
import { authedFetch, startTestServer, tempDir, testAdminKey, tinyModelPath } from './support/server.js';

test('models load on first use, unload after the idle TTL, and the least recently used makes room', async () => {
  const modelsDir = tempDir();
  for (const name of ['alpha', 'beta']) fs.copyFileSync(tinyModelPath, path.join(modelsDir, `${name}.gguf`));
  fs.writeFileSync(path.join(modelsDir, 'notes.txt'), 'not a model');
  const server = await startTestServer({ models_dir: modelsDir, max_loaded_models: 1, model_idle_ttl_s: 1 });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['alpha', 'beta']);
    assert.deepEqual((await server.service.runtimeStats()).loaded, [], 'nothing is loaded before it is used');
    await client.completions.create({ model: 'alpha', prompt: 'a', max_tokens: 1 });
    assert.deepEqual((await server.service.runtimeStats()).loaded, ['alpha']);
    await client.completions.create({ model: 'beta', prompt: 'b', max_tokens: 1 });
    assert.deepEqual((await server.service.runtimeStats()).loaded, ['beta'], 'alpha was unloaded to make room');
    assert.ok(await waitFor(async () => (await server.service.runtimeStats()).loaded.length === 0), 'beta is unloaded once idle');
    const metrics = await (await authedFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /llmsvc_models_loaded 0/);
    assert.match(metrics, /llmsvc_model_load_seconds_count\{model="alpha"\} 1/);
  } finally {
    await server.stop();
  }
});

test('a file that is not a GGUF model gives a clear 500 and the server keeps serving', async () => {
  const modelsDir = tempDir();
  fs.writeFileSync(path.join(modelsDir, 'broken.gguf'), 'this is not a model');
  fs.copyFileSync(tinyModelPath, path.join(modelsDir, 'good.gguf'));
  const server = await startTestServer({ models_dir: modelsDir });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    await assert.rejects(client.completions.create({ model: 'broken', prompt: 'x', max_tokens: 1 }), (error: unknown) => {
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 500);
      assert.equal(error.code, 'model_load_failed');
      assert.match(error.message, /broken/);
      return true;
    });
    const ok = await client.completions.create({ model: 'good', prompt: 'x', max_tokens: 2, seed: 1 });
    assert.equal(ok.usage!.completion_tokens, 2);
  } finally {
    await server.stop();
  }
});

test('log_prompts stores the prompt text in the request log', async () => {
  const server = await startTestServer({ log_prompts: true });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    await client.chat.completions.create(
      { model: 'llama-2-tiny-random', messages: [{ role: 'user', content: 'remember this prompt' }], max_tokens: 1 },
      { headers: { 'x-request-id': 'with-prompt' } },
    );
    assert.ok(await waitFor(async () => (await server.service.store.requestLog.recent(10)).some((row) => row.id === 'with-prompt')));
    const row = (await server.service.store.requestLog.recent(10)).find((entry) => entry.id === 'with-prompt')!;
    assert.match(row.promptText ?? '', /remember this prompt/);
  } finally {
    await server.stop();
  }
});

test('concurrent first requests to a model load it once', async () => {
  const server = await startTestServer();
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const results = await Promise.all(
      // Seeded: an unseeded sample may hit end-of-sequence early and make the token count flaky.
      Array.from({ length: 3 }, () => client.completions.create({ model: 'llama-2-tiny-random', prompt: 'x', max_tokens: 2, seed: 3 })),
    );
    assert.ok(results.every((result) => result.usage!.completion_tokens === 2));
    const metrics = await (await authedFetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /llmsvc_model_load_seconds_count\{model="llama-2-tiny-random"\} 1\n/);
  } finally {
    await server.stop();
  }
});

test('auto parallel tries up to 4 sequences per core (at most 16), halving until the model fits', () => {
  assert.deepEqual(autoParallelCandidates(1), [4, 2, 1]);
  assert.deepEqual(autoParallelCandidates(2), [8, 4, 2, 1]);
  assert.deepEqual(autoParallelCandidates(8), [16, 8, 4, 2, 1]);
});

test('per-model settings override parallel and context size; others get auto parallel', async () => {
  const modelsDir = tempDir();
  for (const name of ['alpha', 'beta']) fs.copyFileSync(tinyModelPath, path.join(modelsDir, `${name}.gguf`));
  const server = await startTestServer({ models_dir: modelsDir, model_settings: { alpha: { parallel: 2, context_size: 256 } } });
  try {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    for (const model of ['alpha', 'beta']) await client.completions.create({ model, prompt: 'x', max_tokens: 1 });
    const { models } = await server.service.runtimeStats();
    assert.equal(models.alpha!.parallel, 2);
    assert.equal(models.alpha!.contextSize, 256);
    // The tiny model fits many times over, so auto takes the first candidate.
    assert.equal(models.beta!.parallel, autoParallelCandidates(os.availableParallelism())[0]);
  } finally {
    await server.stop();
  }
});
