import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import OpenAI from 'openai';
import { runtimeModule } from '../core/providers/llama/worker/runtimeModule.js';
import { startServe, type ServeProcess } from './support/cli.js';
import { testAdminKey, testModelsDir, tinyModelId } from './support/server.js';

// The runtime thread loads dist/runtime-bundle/host.js (scripts/bundleRuntime.ts: the thread's
// modules and node-llama-cpp in one file) when the build made it from the node-llama-cpp installed.
// These check the choice, and that a server on the bundle answers as one on the separate modules.

const distDir = path.resolve(import.meta.dirname, '../dist');
const clientUrl = pathToFileURL(path.join(distDir, 'core/providers/llama/worker/client.js')).href;
const installedVersion = (JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../node_modules/node-llama-cpp/package.json'), 'utf8')) as { version: string }).version;

test('the build made a runtime bundle of the installed node-llama-cpp, and the thread takes it', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(distDir, 'runtime-bundle/startup-bundle.json'), 'utf8')) as { nodeLlamaCpp: string };
  assert.equal(manifest.nodeLlamaCpp, installedVersion);
  const choice = runtimeModule(clientUrl, {});
  assert.equal(choice.bundled, true, choice.reason);
  assert.equal(choice.url.href, pathToFileURL(path.join(distDir, 'runtime-bundle/host.js')).href);
});

test('the separate modules are used from the sources, when turned off, without a bundle, or for another node-llama-cpp', () => {
  assert.deepEqual(
    [runtimeModule(new URL('../core/providers/llama/worker/client.ts', import.meta.url).href, {}).bundled, runtimeModule(clientUrl, { LLMSVC_RUNTIME_BUNDLE: '0' }).bundled],
    [false, false],
  );
  // A dist folder laid out like the real one, in a temp dir: with no bundle, with a bundle made
  // from another node-llama-cpp, and with one whose entry tsc rebuilt since.
  const fakeDist = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-dist-'));
  const fakeClient = pathToFileURL(path.join(fakeDist, 'core/providers/llama/worker/client.js')).href;
  const missing = runtimeModule(fakeClient, {});
  assert.equal(missing.bundled, false);
  assert.match(missing.reason, /no bundle/);
  assert.equal(missing.url.href, pathToFileURL(path.join(fakeDist, 'core/providers/llama/worker/host.js')).href);
  const entry = path.join(fakeDist, 'core/providers/llama/worker/host.js');
  fs.mkdirSync(path.dirname(entry), { recursive: true });
  fs.writeFileSync(entry, '');
  fs.mkdirSync(path.join(fakeDist, 'runtime-bundle'));
  const writeManifest = (nodeLlamaCpp: string) =>
    fs.writeFileSync(
      path.join(fakeDist, 'runtime-bundle/startup-bundle.json'),
      JSON.stringify({ entry: '../core/providers/llama/worker/host.js', nodeLlamaCpp }),
    );
  writeManifest('0.0.1');
  const other = runtimeModule(fakeClient, {});
  assert.equal(other.bundled, false);
  assert.match(other.reason, new RegExp(`node-llama-cpp 0\\.0\\.1, ${installedVersion.replaceAll('.', '\\.')} is installed`));
  writeManifest(installedVersion);
  assert.equal(runtimeModule(fakeClient, {}).bundled, true);
  fs.utimesSync(entry, new Date(), new Date(Date.now() + 5_000));
  const stale = runtimeModule(fakeClient, {});
  assert.equal(stale.bundled, false);
  assert.match(stale.reason, /rebuilt after the bundle was made/);
});

/** What a server answers, for the same requests, on the bundle or on the separate modules. */
async function answers(bundle: '0' | '1'): Promise<{ log: string; texts: string[]; json: unknown; embedding: number[] }> {
  const serve: ServeProcess = await startServe(['--models-dir', testModelsDir, '--threads', '1', '--log-level', 'debug', '--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-bundle-'))], {
    LLMSVC_RUNTIME_BUNDLE: bundle,
  });
  try {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    // Four at once: they share decode steps through the patched batch dispatch and its locks.
    const texts = await Promise.all(
      [1, 2, 3, 4].map(async (seed) => {
        const stream = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: `story ${seed}` }], max_tokens: 12, seed, stream: true });
        let text = '';
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
        return text;
      }),
    );
    const structured = await client.chat.completions.create({
      model: tinyModelId,
      messages: [{ role: 'user', content: 'a number' }],
      max_tokens: 40,
      seed: 7,
      response_format: { type: 'json_schema', json_schema: { name: 'n', strict: true, schema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false } } },
    });
    const embedding = (await client.embeddings.create({ model: tinyModelId, input: 'the same words' })).data[0]!.embedding;
    return { log: serve.stderr(), texts, json: JSON.parse(structured.choices[0]!.message.content!), embedding };
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
}

test('a server on the runtime bundle answers exactly as one on the separate modules, with every runtime patch applied', async () => {
  const bundled = await answers('1');
  const separate = await answers('0');
  assert.match(bundled.log, /runtime thread module: node-llama-cpp [\d.]+, bundled/);
  assert.match(separate.log, /runtime thread module: LLMSVC_RUNTIME_BUNDLE=0/);
  for (const log of [bundled.log, separate.log]) assert.doesNotMatch(log, /could not (patch|bound)/, 'a runtime patch did not apply');
  assert.deepEqual(bundled.texts, separate.texts);
  assert.deepEqual(bundled.json, separate.json);
  // The bounded JSON terminal (a patched prototype inside the bundle): a safe integer.
  assert.ok(Number.isSafeInteger((bundled.json as { n: number }).n));
  assert.deepEqual(bundled.embedding, separate.embedding);
});
