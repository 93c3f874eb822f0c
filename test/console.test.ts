import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AxeBuilder } from '@axe-core/playwright';
import OpenAI, { toFile } from 'openai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ensureConsoleBuilt, launchChromium, loopbackOnlyContext } from './support/browser.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

/** Set LLMSVC_CONSOLE_SCREENSHOTS=<dir> to keep a light and a dark screenshot of every page. */
const screenshotDir = process.env.LLMSVC_CONSOLE_SCREENSHOTS;
const pageNames = ['Overview', 'Keys', 'Models', 'Batches', 'Vector stores', 'Playground', 'Requests', 'Settings'];

let server: TestServer;
let browser: Browser;
let context: BrowserContext;
let outside: string[];
let page: Page;
const consoleErrors: string[] = [];
/** Browser console lines a test provoked on purpose (the wrong key's 401). */
let expectedErrors = 0;

before(async () => {
  ensureConsoleBuilt();
  server = await startTestServer({ context_size: 512 });
  browser = await launchChromium();
  ({ context, outside } = await loopbackOnlyContext(browser));
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(`page error: ${error.message}`));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function seriousViolations(where: string): Promise<void> {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  assert.deepEqual(
    bad.map((violation) => `${violation.id}: ${violation.nodes.map((node) => node.target.join(' ')).join(', ')}`),
    [],
    `axe on ${where}`,
  );
}

/** A tiny batch input (seeded, 4 tokens a line). */
function batchLines(count: number): string {
  return Array.from({ length: count }, (_, index) =>
    JSON.stringify({ custom_id: `line-${index + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0, seed: index + 1 } }),
  ).join('\n') + '\n';
}

async function openPage(name: string): Promise<void> {
  await page.getByRole('link', { name, exact: true }).click();
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

describe('admin console in chromium', () => {
  test('the page is served with a strict CSP, no framing, and asks for the admin key', async () => {
    const response = await page.goto(`${server.url}/admin/`);
    const csp = response!.headers()['content-security-policy'];
    assert.match(csp!, /script-src 'self'/);
    assert.doesNotMatch(csp!, /unsafe-inline|unsafe-eval/);
    assert.match(csp!, /frame-ancestors 'none'/);
    assert.equal(response!.headers()['x-frame-options'], 'DENY');
    await page.getByLabel('Admin key').waitFor();
    await seriousViolations('the sign-in page');
  });

  test('a wrong key shows a clear message next to the field', async () => {
    await page.getByLabel('Admin key').fill('sk-llmsvc-not-the-admin-key-000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /not accepted/);
    assert.equal(await page.getByLabel('Admin key').getAttribute('aria-invalid'), 'true');
    expectedErrors++; // chromium logs the 401 of the sign-in request
  });

  test('signing in with the admin key sets an HttpOnly SameSite=Strict session cookie, not storage', async () => {
    await page.getByLabel('Admin key').fill(testAdminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    const session = cookies.find((cookie) => cookie.name === 'llmsvc_session');
    assert.ok(session, 'session cookie');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    assert.ok(session.expires > Date.now() / 1000, 'the cookie expires');
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!stored.includes(testAdminKey), 'the key is in no storage the page can read');
    for (const name of pageNames) assert.equal(await page.getByRole('link', { name, exact: true }).count(), 1, name);
  });

  let secret = '';
  test('a key created through the form is shown once, listed by the API, and works with the OpenAI SDK', async () => {
    await openPage('Keys');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByLabel('Name').fill('console-made');
    await page.getByLabel('Requests per minute').fill('600');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const field = page.getByLabel('New key secret');
    await field.waitFor();
    secret = await field.inputValue();
    assert.match(secret, /^sk-/);
    const listed = (await (await authedFetch(`${server.url}/admin/v1/keys`)).json()) as { data: { name: string; rpm: number | null }[] };
    assert.deepEqual(listed.data.filter((key) => key.name === 'console-made').map((key) => key.rpm), [600]);
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: secret, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, seed: 1, temperature: 0 });
    assert.equal(completion.object, 'chat.completion');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Keys' }).waitFor();
    await page.locator('tr', { hasText: 'console-made' }).waitFor();
    assert.ok(!(await page.content()).includes(secret), 'the secret is not shown again');
  });

  test('revoking the key through the confirmation makes the SDK get a 401', async () => {
    await page.getByRole('button', { name: 'Revoke console-made' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Revoke' }).click();
    await page.locator('tr', { hasText: 'console-made' }).locator('.badge.revoked').waitFor();
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: secret, maxRetries: 0 });
    await assert.rejects(client.models.list(), (error: unknown) => error instanceof OpenAI.AuthenticationError && error.status === 401);
  });

  test('the playground streams an answer and shows TTFT and tokens/s', async () => {
    await openPage('Playground');
    await page.getByLabel('Model').selectOption(tinyModelId);
    await page.getByLabel('Temperature').fill('0');
    await page.getByLabel('Max tokens').fill('24');
    await page.getByLabel('Seed').fill('7');
    await page.getByLabel('Message').fill('Say something.');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByTestId('figures').waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId('figures').innerText(), /TTFT \d+ ms/);
    const answer = page.locator('.message.assistant').last();
    assert.ok((await answer.innerText()).length > 'assistant'.length);
  });

  test('the requests page shows the playground request', async () => {
    await openPage('Requests');
    await page.locator('table.requests tr', { hasText: '/v1/chat/completions (stream)' }).first().waitFor();
  });

  test('after traffic the overview charts draw data points', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    for (let index = 0; index < 3; index++) await client.chat.completions.create({ model: tinyModelId, messages: [{ role: 'user', content: `n${index}` }], max_tokens: 4, seed: index, temperature: 0 });
    await openPage('Overview');
    const chart = page.locator('figure.chart', { hasText: 'Requests per second' });
    assert.ok(await waitFor(async () => Number(await chart.getAttribute('data-points')) >= 2, 15_000), 'the chart has points');
    // uPlot drew on its canvas: some pixel of the plot is not transparent.
    const painted = await chart.locator('canvas').evaluate((canvas: HTMLCanvasElement) => {
      const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let index = 3; index < pixels.length; index += 4) if (pixels[index] !== 0) return true;
      return false;
    });
    assert.ok(painted, 'the requests chart has drawn pixels');
    const lastRate = await page.locator('.tile', { hasText: 'Requests/s' }).locator('.tile-value').innerText();
    assert.ok(Number(lastRate) > 0, `requests/s after traffic: ${lastRate}`);
  });

  test('the vector stores page lists a store with its files, and its search box finds text', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const file = await client.files.create({ file: await toFile(Buffer.from('The console shows vector stores. Llamas hum quietly.'), 'notes.txt'), purpose: 'assistants' });
    const store = await client.vectorStores.create({ name: 'console-notes', embedding_model: tinyModelId } as OpenAI.VectorStores.VectorStoreCreateParams);
    await client.vectorStores.files.createAndPoll(store.id, { file_id: file.id }, { pollIntervalMs: 50 });
    await openPage('Vector stores');
    await page.getByRole('button', { name: 'Open console-notes' }).click();
    await page.locator('tr', { hasText: file.id }).locator('.badge.completed').waitFor();
    await page.getByLabel('Search this store').fill('llamas');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.locator('ol.hits li', { hasText: 'notes.txt' }).first().waitFor();
  });

  test('a model is unloaded and loaded again from the Models page', async () => {
    await openPage('Models');
    const row = page.locator('tr', { hasText: `${tinyModelId}.gguf` });
    await row.locator('.badge.loaded').waitFor();
    await page.getByRole('button', { name: `Unload ${tinyModelId}` }).click();
    await row.locator('.badge.unloaded').waitFor();
    await page.getByRole('button', { name: `Load ${tinyModelId}` }).click();
    await row.locator('.badge.loaded').waitFor();
  });

  test('a batch submitted through the OpenAI SDK shows on the Batches page with its progress, completes, and its output downloads', async () => {
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const input = await client.files.create({ file: await toFile(Buffer.from(batchLines(2)), 'console-batch.jsonl'), purpose: 'batch' });
    const batch = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await openPage('Batches');
    const row = page.locator('tr', { hasText: batch.id });
    await row.locator('.badge.completed').waitFor({ timeout: 30_000 });
    assert.match(await row.innerText(), /batch \(OpenAI\)[\s\S]*2 \/ 2/);
    assert.equal(await row.getByRole('progressbar', { name: `Progress of ${batch.id}` }).getAttribute('value'), '2');
    const done = await client.batches.retrieve(batch.id);
    assert.equal(done.status, 'completed');

    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: `Download output of ${batch.id}` }).click()]);
    assert.equal(download.suggestedFilename(), `${batch.id}-output.jsonl`);
    const downloaded = fs.readFileSync((await download.path())!, 'utf8');
    assert.equal(downloaded, await (await client.files.content(done.output_file_id!)).text(), 'the same bytes as the SDK gets');
    const lines = downloaded.trim().split('\n').map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((line) => line.custom_id).sort(), ['line-1', 'line-2']);
    assert.ok(lines.every((line) => line.response.status_code === 200));
  });

  test('cancel through the Batches page (after a confirmation) cancels a running batch', async () => {
    // A key allowed three requests a minute (upload, create, one line): the batch stays in
    // progress at 1 of 3, its key paused, until it is cancelled.
    const slow = await server.service.keys.create({ name: 'console-slow-batch', scope: 'user', models: [tinyModelId], rpm: 3, cache: false, expires_at: null });
    const slowClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: slow.secret, maxRetries: 0 });
    const input = await slowClient.files.create({ file: await toFile(Buffer.from(batchLines(3)), 'slow-batch.jsonl'), purpose: 'batch' });
    const batch = await slowClient.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await openPage('Batches');
    const row = page.locator('tr', { hasText: batch.id });
    await row.locator('.badge.in_progress').waitFor({ timeout: 30_000 });
    await row.getByText('1 / 3').waitFor({ timeout: 30_000 });
    if (screenshotDir) {
      fs.mkdirSync(screenshotDir, { recursive: true });
      await page.screenshot({ path: path.join(screenshotDir, 'batches-running.png') });
    }

    await row.getByRole('button', { name: `Cancel ${batch.id}` }).click();
    const dialog = page.getByRole('dialog', { name: `Cancel ${batch.id}?` });
    await dialog.waitFor();
    // Backing out of the dialog changes nothing.
    await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
    assert.equal((await authedFetch(`${server.url}/v1/batches/${batch.id}`).then((response) => response.json()) as any).status, 'in_progress');
    await row.getByRole('button', { name: `Cancel ${batch.id}` }).click();
    await dialog.getByRole('button', { name: 'Cancel job' }).click();
    await row.locator('.badge.cancelled').waitFor({ timeout: 30_000 });
    const ended = (await authedFetch(`${server.url}/v1/batches/${batch.id}`).then((response) => response.json())) as any;
    assert.equal(ended.status, 'cancelled');
    assert.equal(ended.request_counts.completed, 1);
    assert.equal(await row.getByRole('button', { name: `Cancel ${batch.id}` }).count(), 0, 'an ended batch offers no cancel');
  });

  test('every page passes axe in light and dark, with no console errors and nothing outside 127.0.0.1', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const name of pageNames) {
        await openPage(name);
        await seriousViolations(`${name} (${scheme})`);
        if (screenshotDir) {
          fs.mkdirSync(screenshotDir, { recursive: true });
          await page.screenshot({ path: path.join(screenshotDir, `${name.toLowerCase().replace(' ', '-')}-${scheme}.png`) });
        }
      }
    }
    await page.emulateMedia({ colorScheme: 'light' });
    assert.deepEqual(outside, []);
    assert.equal(consoleErrors.length, expectedErrors, consoleErrors.join('\n'));
    assert.match(consoleErrors[0] ?? '', /401/);
  });

  test('signing out ends the session: the cookie no longer opens the admin API', async () => {
    const cookie = (await context.cookies()).find((entry) => entry.name === 'llmsvc_session')!;
    await openPage('Settings');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Admin key').waitFor();
    const response = await fetch(`${server.url}/admin/v1/keys`, { headers: { cookie: `llmsvc_session=${cookie.value}` } });
    assert.equal(response.status, 401);
  });
});

describe('console sessions over HTTP', () => {
  let api: TestServer;
  const upstreamSecret = 'sk-upstream-secret-never-shown-123';
  before(async () => {
    api = await startTestServer(
      {
        auth_failure_limit: 3,
        providers: [{ id: 'up', type: 'openai-compatible', base_url: 'http://user:hunter2@127.0.0.1:9/v1?token=abc', api_key_env: 'UP_KEY' }],
        routes: [{ model: 'team', targets: [{ provider: 'up', model: 'm' }] }],
      },
      { UP_KEY: upstreamSecret },
    );
  });
  after(() => api.stop());

  async function signIn(key = testAdminKey) {
    const response = await fetch(`${api.url}/admin/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key }) });
    const body = (await response.json()) as { csrf_token: string };
    return { response, cookie: response.headers.get('set-cookie')?.split(';')[0] ?? '', csrf: body.csrf_token };
  }

  test('a change with the session cookie but without the CSRF token is a 403; with it, it works', async () => {
    const { cookie, csrf } = await signIn();
    const body = JSON.stringify({ name: 'csrf-check' });
    const without = await fetch(`${api.url}/admin/v1/keys`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body });
    assert.equal(without.status, 403);
    assert.equal(((await without.json()) as { error: { code: string } }).error.code, 'csrf_token_invalid');
    const wrong = await fetch(`${api.url}/admin/v1/keys`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': `${csrf}x` }, body });
    assert.equal(wrong.status, 403);
    const withToken = await fetch(`${api.url}/admin/v1/keys`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', 'x-csrf-token': csrf }, body });
    assert.equal(withToken.status, 201);
    assert.equal(withToken.headers.get('cache-control'), 'no-store');
    // Reads need no token, and the page gets its token back after a reload.
    const session = (await (await fetch(`${api.url}/admin/v1/session`, { headers: { cookie } })).json()) as { signed_in: boolean; csrf_token: string };
    assert.deepEqual([session.signed_in, session.csrf_token], [true, csrf]);
  });

  test('a user-scope key cannot open a console session', async () => {
    const created = (await (await authedFetch(`${api.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'user-only' }) }).then((r) => r)).json()) as { key: string };
    const { response } = await signIn(created.key);
    assert.equal(response.status, 403);
    assert.equal(response.headers.get('set-cookie'), null);
  });

  test('revoking the admin key behind a session ends the session', async () => {
    const admin2 = (await (await authedFetch(`${api.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'second-admin', scope: 'admin' }) })).json()) as { id: string; key: string };
    const { cookie } = await signIn(admin2.key);
    assert.equal((await fetch(`${api.url}/admin/v1/keys`, { headers: { cookie } })).status, 200);
    await authedFetch(`${api.url}/admin/v1/keys/${admin2.id}`, { method: 'DELETE' });
    assert.equal((await fetch(`${api.url}/admin/v1/keys`, { headers: { cookie } })).status, 401);
  });

  test('the routing config is shown with every secret redacted', async () => {
    const { cookie } = await signIn();
    const text = await (await fetch(`${api.url}/admin/v1/config/routing`, { headers: { cookie } })).text();
    for (const secretPart of [upstreamSecret, 'hunter2', 'token=abc']) assert.ok(!text.includes(secretPart), secretPart);
    const routing = JSON.parse(text) as { providers: { base_url: string; api_key: string; api_key_source: string }[]; routes: { model: string }[] };
    assert.equal(routing.providers[0]!.base_url, 'http://redacted@127.0.0.1:9/v1?redacted');
    assert.deepEqual([routing.providers[0]!.api_key, routing.providers[0]!.api_key_source], ['set', 'env UP_KEY']);
    assert.equal(routing.routes[0]!.model, 'team');
  });

  test('repeated wrong keys at sign-in are throttled like the API, with Retry-After', async () => {
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) statuses.push((await signIn('sk-llmsvc-wrong-key-for-throttle-0000')).response.status);
    // The limit is 3 failures a minute (the user-scope sign-in above was one).
    assert.equal(statuses[0], 401);
    assert.deepEqual(statuses.slice(3), [429, 429]);
    const throttled = await signIn('sk-llmsvc-wrong-key-for-throttle-0000');
    assert.equal(throttled.response.status, 429);
    assert.ok(Number(throttled.response.headers.get('retry-after')) > 0);
    // A valid key from the same address still signs in (as with the API's throttle).
    assert.equal((await signIn()).response.status, 201);
  });

  test('no spelling of an admin path reaches the admin API without a key (console pages are public by route, not by path)', async () => {
    const tricks = ['/admin/v1/keys', '/admin//v1/keys', '/admin/v1%2Fkeys', '/admin/%2e%2e/v1/models', '/admin/./v1/keys', '/admin/v1/keys/', '/admin/v1/stats', '/admin/v1/config/routing', '/admin/v1/server', '/admin/assets/../v1/keys'];
    for (const trick of tricks) {
      const response = await fetch(`${api.url}${trick}`);
      const text = await response.text();
      assert.notEqual(response.status, 200, `${trick} answered 200: ${text.slice(0, 80)}`);
      assert.ok(!text.includes('key_admin') && !text.includes('"providers"'), trick);
    }
    // The page itself is public, and the sign-in route.
    assert.equal((await fetch(`${api.url}/admin/`)).status, 200);
    assert.equal((await fetch(`${api.url}/admin/v1/session`)).status, 200);
  });

  test('without built assets /admin says how to build them', async () => {
    const { registerConsole, ConsoleSessions } = await import('../core/server/routes/console/index.js');
    const Fastify = (await import('fastify')).default;
    const app = Fastify();
    const service = api.service;
    registerConsole(app, { config: service.config, keys: service.keys, clock: Date.now, sessions: new ConsoleSessions(service.keys, Date.now), assetsDir: path.join(api.dataDir, 'no-console') });
    const response = await app.inject({ method: 'GET', url: '/admin/' });
    assert.equal(response.statusCode, 503);
    assert.match(response.body, /npm run build/);
    await app.close();
  });
});
