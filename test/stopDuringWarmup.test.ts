import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../core/config/index.js';
import { createLocalProviders } from '../core/providers/localProviders.js';
import { startServe } from './support/cli.js';
import { tempDir, testModelsDir } from './support/server.js';

// Regression: a SIGTERM while the runtime thread was still loading llama.cpp terminated the thread
// mid-load, and the process aborted ("terminate called after throwing an instance of
// 'Napi::Error'", exit code 1) instead of stopping cleanly. Seen in CI on a busy machine with
// `serve --workers 2`, whose workers start the runtime thread too.

test('SIGTERM right after serve listens, while llama.cpp is still loading, stops cleanly with exit 0', async () => {
  for (let attempt = 0; attempt < 3; attempt++) {
    // A fresh data dir: the first start also tests the prebuilt binary, which widens the window.
    const dataDir = path.join(tempDir(), 'data');
    const serve = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1']);
    const readyz = await fetch(`${serve.url}/readyz`);
    serve.child.kill('SIGTERM');
    const code = await serve.exited;
    assert.doesNotMatch(serve.stderr(), /terminate called/);
    assert.equal(code, 0, serve.stderr().slice(-3000));
    if (readyz.status === 503) return; // stopped during warm-up: what this test is about
  }
  assert.fail('serve was ready at once in every attempt: the stop never landed during warm-up');
});

test('disposing the llama runtime while it loads llama.cpp lets the load finish before the thread ends', async () => {
  const config = loadConfig({ env: {}, flags: { data_dir: tempDir(), models_dir: testModelsDir, threads: 1 } });
  const { llama } = createLocalProviders(config, () => {});
  await llama.dispose(); // at once: the runtime thread has only just started loading
  const outcome = await llama.ready().then(
    () => 'loaded',
    (error: unknown) => (error as Error).message,
  );
  assert.equal(outcome, 'loaded', 'the thread was terminated in the middle of loading llama.cpp');
});
