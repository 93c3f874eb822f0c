import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import { cliPath, runCli, startServe, type ServeProcess } from './support/cli.js';
import { authedFetch, tempDir, testAdminKey, testModelsDir, tinyModelId } from './support/server.js';
import { waitFor } from './support/wait.js';

// The real `llmsvc top` (dist/, built by `npm test`) in a real terminal: tmux, 100×30.

const socket = `llmsvc-top-test-${process.pid}`;
const session = 'top';
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
const pane = () => tmux('capture-pane', '-p', '-t', session);
const send = (...keys: string[]) => tmux('send-keys', '-t', session, ...keys);
const paneShows = (pattern: RegExp, timeoutMs = 15_000) => waitFor(() => pattern.test(pane()), timeoutMs);

let dataDir: string;
let serve: ServeProcess;
let port: number;
const serveArgs = () => ['--data-dir', dataDir, '--threads', '1', '--models-dir', testModelsDir, '--port', String(port ?? 0)];

async function startServer(): Promise<void> {
  serve = await startServe(serveArgs().slice(0, port ? undefined : -2));
  port = Number(new URL(serve.url).port);
}

before(async () => {
  assert.ok(fs.existsSync(cliPath), `build dist/ first (npx tsc -p tsconfig.json): ${cliPath} is missing`);
  dataDir = tempDir();
  await startServer();
  // A plain shell in a detached 100×30 terminal; commands are typed into it.
  tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', 'env PS1=shell$\\  bash --norc --noprofile');
  send(`cd ${process.cwd()}`, 'Enter');
});

after(async () => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
  serve.child.kill('SIGTERM');
  await serve.exited;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('top in tmux: overview after traffic, a CLI-created key in Keys, recovery from a server restart, q back to the shell', async () => {
  const chat = await authedFetch(`${serve.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, seed: 1 }),
  });
  assert.equal(chat.status, 200);

  send('clear', 'Enter');
  send(`LLMSVC_ADMIN_KEY=${testAdminKey} node ${cliPath} top --url ${serve.url}; echo "top exited $?"`, 'Enter');
  assert.ok(await paneShows(new RegExp(`${tinyModelId}\\s+loaded`)), `overview shows the loaded model:\n${pane()}`);
  const overview = pane();
  assert.match(overview, /1 Overview/);
  assert.match(overview, /requests\/s/);
  assert.doesNotMatch(overview, /reconnecting/);

  const created = runCli(['keys', 'create', '--name', 'tmux-key', '--data-dir', dataDir, '--json']);
  assert.equal(created.status, 0, created.stderr);
  send('2');
  assert.ok(await paneShows(/tmux-key/), `Keys lists the key created with the CLI:\n${pane()}`);

  serve.child.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  assert.ok(await paneShows(/reconnecting…/), `a banner while the server is gone:\n${pane()}`);
  await startServer();
  assert.ok(await paneShows(/tmux-key/) && (await waitFor(() => !/reconnecting/.test(pane()), 15_000)), `recovered after the restart:\n${pane()}`);
  send('1');
  assert.ok(await paneShows(new RegExp(`${tinyModelId}\\s+\\w+`)), pane());

  send('q');
  assert.ok(await paneShows(/top exited 0/), `q exits 0:\n${pane()}`);
  const shell = pane();
  assert.doesNotMatch(shell, /1 Overview/, 'the alternate screen is gone: the pane is the shell again');
  assert.match(shell, /shell\$ /);
});

test('top with a wrong admin key: one sentence on stderr, exit 1', async () => {
  send('clear', 'Enter');
  send(`LLMSVC_ADMIN_KEY=sk-llmsvc-wrong-key-000000000000 node ${cliPath} top --url ${serve.url}; echo "top exited $?"`, 'Enter');
  assert.ok(await paneShows(/top exited 1/), pane());
  const text = pane();
  assert.match(text, /llmsvc: The admin key was refused by http:\/\/127\.0\.0\.1:\d+ \(401\)/);
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
});

test('top --once --json prints one snapshot, without a terminal', () => {
  const result = runCli(['top', '--once', '--json', '--url', serve.url], { LLMSVC_ADMIN_KEY: testAdminKey });
  assert.equal(result.status, 0, result.stderr);
  const snapshot = JSON.parse(result.stdout);
  assert.equal(snapshot.object, 'stats');
  assert.equal(typeof snapshot.time, 'number');
  assert.ok(Array.isArray(snapshot.models) && snapshot.models.some((model: any) => model.id === tinyModelId));
  for (const field of ['requests_per_s', 'errors_per_s', 'prompt_tokens_per_s', 'completion_tokens_per_s', 'cache_hit_rate', 'active_requests']) assert.ok(field in snapshot.totals, field);
  assert.ok(Array.isArray(snapshot.upstreams) && Array.isArray(snapshot.jobs));

  // No LLMSVC_ADMIN_KEY: the key comes from <data-dir>/admin.key.
  const keyDir = tempDir();
  fs.writeFileSync(`${keyDir}/admin.key`, `${testAdminKey}\n`);
  const fromFile = runCli(['top', '--once', '--json', '--url', serve.url, '--data-dir', keyDir], { LLMSVC_ADMIN_KEY: '' });
  fs.rmSync(keyDir, { recursive: true, force: true });
  assert.equal(fromFile.status, 0, fromFile.stderr);
  assert.equal(JSON.parse(fromFile.stdout).object, 'stats');

  const noTty = runCli(['top', '--url', serve.url], { LLMSVC_ADMIN_KEY: testAdminKey });
  assert.equal(noTty.status, 1);
  assert.match(noTty.stderr, /needs an interactive terminal.*--once --json/);
  const wrongKey = runCli(['top', '--once', '--json', '--url', serve.url], { LLMSVC_ADMIN_KEY: 'sk-llmsvc-wrong-key-000000000000' });
  assert.equal(wrongKey.status, 1);
  assert.equal(wrongKey.stderr.trim().split('\n').length, 1, wrongKey.stderr);
  assert.match(wrongKey.stderr, /admin key was refused/);
});
