import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startTestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

interface ReadyBody {
  status: string;
  reason?: string;
  backend: string | null;
  models_available: number;
}

async function readyz(url: string): Promise<{ code: number; body: ReadyBody }> {
  const response = await fetch(`${url}/readyz`);
  return { code: response.status, body: (await response.json()) as ReadyBody };
}

test('/healthz answers while the runtime thread warms up; /readyz is 503 with a reason until it is ready, then 200', async () => {
  // Start-up is held in its warming phase until released, so what the server answers meanwhile
  // is seen every time, however fast llama.cpp loads.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const server = await startTestServer({}, {}, { runtimeReadyAfter: held });
  try {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const starting = await readyz(server.url);
    assert.equal(starting.code, 503);
    assert.ok(['starting', 'warming'].includes(starting.body.status), starting.body.status);
    assert.match(starting.body.reason ?? '', /runtime thread is loading/);
    assert.equal(starting.body.backend, null);
    assert.equal(starting.body.models_available, 1);
    // Once its modules are loaded, the thread is loading llama.cpp: still not ready.
    assert.ok(await waitFor(async () => (await readyz(server.url)).body.status === 'warming'), 'readyz never said warming');
    const warming = await readyz(server.url);
    assert.equal(warming.code, 503);
    assert.equal(warming.body.reason, 'the runtime thread is loading llama.cpp');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);

    release();
    assert.ok(await waitFor(async () => (await readyz(server.url)).code === 200), 'readyz never turned 200');
    const ready = await readyz(server.url);
    assert.equal(ready.body.status, 'ready');
    assert.equal(ready.body.reason, undefined);
    assert.equal(ready.body.backend, 'cpu');
  } finally {
    await server.stop();
  }
});

test('/readyz says failed, with the reason, when the runtime cannot load llama.cpp', async () => {
  const unusable = Promise.reject(new Error('no usable binary'));
  unusable.catch(() => {}); // handled by the server, which sees it a moment later
  const server = await startTestServer({}, {}, { runtimeReadyAfter: unusable });
  try {
    assert.ok(await waitFor(async () => (await readyz(server.url)).body.status === 'failed'), 'readyz never said failed');
    const failed = await readyz(server.url);
    assert.equal(failed.code, 503);
    assert.equal(failed.body.reason, 'llama.cpp could not be loaded: no usable binary');
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    assert.match(server.logs(), /llama\.cpp could not be loaded; local models cannot be served/);
  } finally {
    await server.stop();
  }
});
