import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { render } from 'ink-testing-library';
import OpenAI, { toFile } from 'openai';
import { createElement } from 'react';
import { AdminClient } from '../apps/cli/top/adminClient.js';
import { App } from '../apps/cli/top/App.js';
import { plainTheme } from '../apps/cli/top/theme.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

// `llmsvc top`'s views (Ink, through ink-testing-library) against a real server on port 0: live
// data in every view, and every change made through the admin API. (A .ts file with
// createElement, so the suite's test/*.test.ts glob runs it.)

let server: TestServer;
let ui: ReturnType<typeof render>;
const exits: number[] = [];

before(async () => {
  server = await startTestServer({ context_size: 512 });
  const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  await openai.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 1 });
  const file = await openai.files.create({ file: await toFile(Buffer.from('Llamas are woolly.'), 'llamas.txt'), purpose: 'assistants' });
  await openai.vectorStores.create({ name: 'top', file_ids: [file.id] });
  ui = render(createElement(App, { client: new AdminClient(server.url, testAdminKey), theme: plainTheme, onExit: (code: number) => exits.push(code) }));
});

after(async () => {
  ui.unmount();
  await server.stop();
});

const frame = () => ui.lastFrame() ?? '';
const shows = (pattern: RegExp, timeoutMs = 10_000) => waitFor(() => pattern.test(frame()), timeoutMs);
const press = async (keys: string) => {
  ui.stdin.write(keys);
  await new Promise((resolve) => setTimeout(resolve, 50));
};
const keysFromApi = async () => ((await (await authedFetch(`${server.url}/admin/v1/keys`)).json()) as { data: { id: string; name: string; revoked: boolean }[] }).data;
const modelState = async () => ((await (await authedFetch(`${server.url}/admin/v1/models`)).json()) as { data: { id: string; state: string }[] }).data.find((m) => m.id === tinyModelId)?.state;

test('Overview: the loaded model and the totals, live from the stats stream', async () => {
  assert.ok(await shows(new RegExp(`${tinyModelId}\\s+loaded`)), frame());
  assert.match(frame(), /requests\/s/);
  assert.match(frame(), /UPSTREAMS/);
  assert.doesNotMatch(frame(), /reconnecting/);
});

test('Keys: the form creates a key that /admin/v1/keys lists, its secret shown once; revoke asks first', async () => {
  await press('2');
  assert.ok(await shows(/admin\s+sk-llmsvc-test\s+admin/), frame());
  await press('n');
  assert.ok(await shows(/New key/), frame());
  await press('ink-key');
  await press('\t\t'); // to the rpm field
  await press('120');
  await press('\r');
  assert.ok(await shows(/Key 'ink-key' created/), frame());
  const secret = /(sk-llmsvc-\S+)/.exec(frame().split('created')[1]!)?.[1];
  assert.ok(secret, 'the secret is in the dialog');
  const created = (await keysFromApi()).find((key) => key.name === 'ink-key');
  assert.ok(created, 'the admin API lists the new key');
  assert.equal(((await (await authedFetch(`${server.url}/admin/v1/keys/${created.id}`)).json()) as { rpm: number }).rpm, 120);
  assert.equal((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })).status, 200, 'the shown secret works');
  await press('\r');
  assert.ok(await shows(/ink-key\s+sk-llmsvc/), frame());

  const index = (await keysFromApi()).findIndex((key) => key.name === 'ink-key');
  for (let step = 0; step < index; step++) await press('j');
  await press('r');
  assert.ok(await shows(/Revoke key 'ink-key'/), frame());
  assert.equal((await keysFromApi()).find((key) => key.name === 'ink-key')!.revoked, false, 'nothing revoked before the answer');
  await press('y');
  assert.ok(await waitFor(async () => (await keysFromApi()).find((key) => key.name === 'ink-key')!.revoked), 'revoked after y');
  assert.ok(await shows(/ink-key revoked/), frame());
});

test('Models: unload and load the selected model through the admin API', async () => {
  await press('3');
  assert.ok(await shows(new RegExp(`${tinyModelId}\\s+gguf\\s+loaded\\s+cpu`)), frame());
  await press('u');
  assert.ok(await waitFor(async () => (await modelState()) === 'unloaded'), 'unloaded');
  assert.ok(await shows(new RegExp(`${tinyModelId}\\s+gguf\\s+unloaded`)), frame());
  await press('l');
  assert.ok(await waitFor(async () => (await modelState()) === 'loaded', 30_000), 'loaded again');
  assert.ok(await shows(new RegExp(`${tinyModelId}\\s+gguf\\s+loaded`)), frame());
});

test('Jobs and Requests: the ingestion job, and the request log tail with a status filter', async () => {
  await press('4');
  assert.ok(await shows(/vector_store\.file\.ingest\s+(queued|running|done)/), frame());
  await press('c');
  assert.ok(await shows(/Cancel job/), frame());
  await press('y');
  assert.ok(await shows(/cannot be cancelled/), frame());

  await press('5');
  assert.ok(await shows(/200\s+\/v1\/chat\/completions/), frame());
  await press('s');
  assert.ok(await shows(/filter: status 2xx/), frame());
  await press('s');
  assert.ok(await shows(/filter: status 4xx/), frame());
  assert.ok(await shows(/No requests match/), frame());
});

test('Jobs: a running batch with its progress bar; c asks first, then cancels it through the admin API', async () => {
  // A key allowed three requests a minute (upload, create, one line): the batch stays in
  // progress at 1 of 3, its key paused, until it is cancelled.
  const slow = await server.service.keys.create({ name: 'top-slow-batch', scope: 'user', models: [tinyModelId], rpm: 3, cache: false, expires_at: null });
  const slowClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: slow.secret, maxRetries: 0 });
  const lines = [1, 2, 3].map((seed) => JSON.stringify({ custom_id: `line-${seed}`, method: 'POST', url: '/v1/chat/completions', body: { model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, seed } }));
  const input = await slowClient.files.create({ file: await toFile(Buffer.from(lines.join('\n') + '\n'), 'top-batch.jsonl'), purpose: 'batch' });
  const batch = await slowClient.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  const batchState = async () => ((await (await authedFetch(`${server.url}/v1/batches/${batch.id}`)).json()) as { status: string }).status;

  await press('4');
  // Newest first: the batch is the first row; its bar is a third full.
  const row = new RegExp(`${batch.id.slice(0, 21)}…?\\s+batch·openai\\s+in_progress\\s+███[▏▎▍▌▋▊▉]······\\s+1/3`);
  assert.ok(await shows(row, 30_000), frame());
  if (process.env.LLMSVC_TOP_FRAMES) console.log(frame());
  for (let step = 0; step < 5; step++) await press('k');
  await press('c');
  assert.ok(await shows(/Cancel batch/), frame());
  await press('n');
  assert.ok(await shows(/Cancelled/), frame());
  assert.equal(await batchState(), 'in_progress', 'n leaves the batch running');
  await press('c');
  assert.ok(await shows(/Cancel batch/), frame());
  await press('y');
  assert.ok(await waitFor(async () => (await batchState()) === 'cancelled', 30_000), 'cancelled after y');
  assert.ok(await shows(new RegExp(`batch·openai\\s+cancelled\\s+█{10}\\s+3/3`)), frame());
});

test('? shows every key; q quits with 0', async () => {
  await press('?');
  assert.ok(await shows(/llmsvc top — keys/), frame());
  for (const key of ['Keys: n', 'Keys: r', 'Keys: R', 'Keys: e', 'Models: l / u', 'Jobs: c', 'q  Ctrl+C']) assert.ok(frame().includes(key), key);
  await press('x');
  await press('q');
  assert.deepEqual(exits, [0]);
});
