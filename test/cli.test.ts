import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { Database } from '../core/store/sqlite.js';
import OpenAI from 'openai';
import { runCli, startServe } from './support/cli.js';
import { authedFetch, tempDir, testAdminKey, testModelsDir, tinyModelId } from './support/server.js';
import { waitFor } from './support/wait.js';

const pkg = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../package.json'), 'utf8')) as { version: string };

test('--help, serve --help and --version', () => {
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /serve/);
  assert.match(help.stdout, /models/);
  const serveHelp = runCli(['serve', '--help']);
  for (const flag of ['--host', '--port', '--data-dir', '--models-dir', '--config']) assert.ok(serveHelp.stdout.includes(flag), flag);
  const version = runCli(['--version']);
  assert.equal(version.stdout.trim(), pkg.version);
});

test('an unknown config key stops serve with a message naming it', () => {
  const dir = tempDir();
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ port: 0, modelz_dir: '/x' }));
  const result = runCli(['serve', '--config', file, '--data-dir', dir]);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /unknown setting "modelz_dir"/);
});

test('env twins of the flags are read: LLMSVC_MODELS_DIR serves the shared models', async () => {
  const dataDir = tempDir();
  const serve = await startServe(['--data-dir', dataDir], { LLMSVC_MODELS_DIR: testModelsDir, LLMSVC_THREADS: '1' });
  try {
    const models = (await (await authedFetch(`${serve.url}/v1/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(models.data.map((m) => m.id), [tinyModelId]);
    assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'binds loopback by default');
  } finally {
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
  }
});

test('an empty models dir serves the generated smoke-tiny model and says how to add a real one', async () => {
  const dataDir = tempDir();
  const serve = await startServe(['--data-dir', dataDir, '--threads', '1']);
  try {
    assert.ok(serve.stdoutLines.some((line) => line.includes("'smoke-tiny'") && line.includes('gibberish')));
    assert.ok(serve.stdoutLines.some((line) => line.includes('Add a real model')));
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ['smoke-tiny']);
    const completion = await client.chat.completions.create({ model: 'smoke-tiny', messages: [{ role: 'user', content: 'hello' }], max_tokens: 5, seed: 1 });
    assert.equal(completion.usage!.completion_tokens, 5);
    const embedding = await client.embeddings.create({ model: 'smoke-tiny', input: 'hello' });
    assert.ok(embedding.data[0]!.embedding.length > 0);
    // A real model added while serving takes precedence.
    fs.mkdirSync(path.join(dataDir, 'models'), { recursive: true });
    fs.copyFileSync(path.join(testModelsDir, `${tinyModelId}.gguf`), path.join(dataDir, 'models', 'real.gguf'));
    assert.deepEqual((await client.models.list()).data.map((m) => m.id), ['real']);
  } finally {
    serve.child.kill('SIGINT');
    assert.equal(await serve.exited, 0);
  }
});

test('SIGTERM mid-stream: the stream finishes, the process exits 0 and the request log is on disk', async () => {
  const dataDir = tempDir();
  const serve = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1', '--context-size', '1024']);
  const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const stream = await client.chat.completions.create(
    { model: tinyModelId, messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 900, seed: 7, stream: true, stream_options: { include_usage: true } },
    { headers: { 'x-request-id': 'in-flight-at-shutdown' } },
  );
  let chunks = 0;
  let usage: OpenAI.CompletionUsage | undefined;
  let finish: string | null = null;
  for await (const chunk of stream) {
    if (++chunks === 2) serve.child.kill('SIGTERM');
    if (chunk.usage) usage = chunk.usage;
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(finish, 'length', 'the in-flight stream ran to its end');
  assert.equal(usage?.completion_tokens, 900);
  assert.equal(await serve.exited, 0);
  // New connections are refused once it stopped.
  await assert.rejects(fetch(`${serve.url}/healthz`));
  const db = new Database(path.join(dataDir, 'llmsvc.sqlite'), { readonly: true });
  const row = db.prepare('SELECT status, completion_tokens FROM request_log WHERE id = ?').get('in-flight-at-shutdown') as { status: number; completion_tokens: number };
  db.close();
  assert.deepEqual(row, { status: 200, completion_tokens: 900 });
  assert.ok(!fs.existsSync(path.join(dataDir, 'llmsvc.sqlite-wal')) || fs.statSync(path.join(dataDir, 'llmsvc.sqlite-wal')).size === 0, 'SQLite was closed cleanly (WAL checkpointed)');
});

test('models synth writes a model that serve loads', async () => {
  const dir = tempDir();
  const out = path.join(dir, 'models', 'synth-tiny.gguf');
  fs.mkdirSync(path.dirname(out));
  const result = runCli(['models', 'synth', '--out', out, '--preset', 'tiny', '--quant', 'q8_0', '--seed', '9']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /Wrote .*synth-tiny\.gguf: preset tiny, q8_0/);
  assert.match(result.stderr, /writing 100%/, 'progress is shown');
  const list = runCli(['models', 'list', '--models-dir', path.dirname(out), '--json']);
  assert.deepEqual((JSON.parse(list.stdout) as { id: string }[]).map((m) => m.id), ['synth-tiny']);
  const serve = await startServe(['--data-dir', dir, '--models-dir', path.dirname(out), '--threads', '1']);
  try {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const completion = await client.completions.create({ model: 'synth-tiny', prompt: 'abc', max_tokens: 4, seed: 4 });
    assert.equal(completion.usage!.completion_tokens, 4);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
});

test('first start without LLMSVC_ADMIN_KEY creates admin.key (0600), prints where it is, never the key', async () => {
  const dataDir = tempDir();
  const serve = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1'], { LLMSVC_ADMIN_KEY: '' });
  const keyFile = path.join(dataDir, 'admin.key');
  try {
    const secret = fs.readFileSync(keyFile, 'utf8').trim();
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    assert.ok(serve.stdoutLines.some((line) => line.includes(keyFile)));
    assert.ok(!serve.stdoutLines.join('\n').includes(secret) && !serve.stderr().includes(secret), 'the secret is not printed');
    assert.equal((await authedFetch(`${serve.url}/admin/v1/keys`, {}, secret)).status, 200);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  const again = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir], { LLMSVC_ADMIN_KEY: '' });
  try {
    assert.ok(!again.stdoutLines.some((line) => line.includes('admin.key')), 'the key is made once');
  } finally {
    again.child.kill('SIGTERM');
    await again.exited;
  }
});

test('keys, quota and usage verbs: tables for people, JSON for scripts, and the server honours them', async () => {
  const dataDir = tempDir();
  const created = runCli(['keys', 'create', '--name', 'ci-bot', '--rpm', '2', '--models', 'llama-*', '--data-dir', dataDir, '--json']);
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { id: string; key: string; rpm: number; models: string[] };
  assert.equal(key.rpm, 2);
  assert.deepEqual(key.models, ['llama-*']);
  const table = runCli(['keys', 'list', '--data-dir', dataDir]);
  assert.match(table.stdout, /^ID\s+NAME\s+PREFIX/);
  assert.match(table.stdout, /ci-bot/);
  assert.ok(!table.stdout.includes(key.key), 'list never shows a secret');
  const raised = runCli(['quota', 'set', key.id, '--rpm', '3', '--daily-tokens', '100000', '--data-dir', dataDir, '--json']);
  assert.equal((JSON.parse(raised.stdout) as { rpm: number }).rpm, 3);
  const serve = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1']);
  try {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: key.key, maxRetries: 0 });
    for (let i = 0; i < 3; i++) await client.completions.create({ model: tinyModelId, prompt: 'x', max_tokens: 2 });
    await assert.rejects(client.completions.create({ model: tinyModelId, prompt: 'x', max_tokens: 2 }), OpenAI.RateLimitError);
    // Revoked from the CLI while the server runs: refused at once.
    assert.equal(runCli(['keys', 'revoke', key.id, '--data-dir', dataDir]).status, 0);
    await assert.rejects(client.models.list(), OpenAI.AuthenticationError);
  } finally {
    serve.child.kill('SIGTERM');
    await serve.exited;
  }
  const usage = JSON.parse(runCli(['usage', '--key', key.id, '--data-dir', dataDir, '--json']).stdout) as { model: string; requests: number; completion_tokens: number; errors: number }[];
  // The refused request is counted too; it was refused before its body (and model) was read.
  assert.deepEqual(usage.map((row) => [row.model, row.requests, row.completion_tokens, row.errors]), [
    ['', 1, 0, 1],
    [tinyModelId, 3, 6, 0],
  ]);
  assert.match(runCli(['usage', '--data-dir', dataDir]).stdout, /DAY\s+KEY_ID\s+MODEL/);
  const unknown = runCli(['keys', 'show', 'key_missing', '--data-dir', dataDir]);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /No API key has the id 'key_missing'/);
});

test('keys create --cache and quota set --cache true|false: the key opts in to the response cache', () => {
  const dataDir = tempDir();
  const created = runCli(['keys', 'create', '--name', 'cached-bot', '--cache', '--data-dir', dataDir, '--json']);
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { id: string; cache: boolean };
  assert.equal(key.cache, true);
  assert.match(runCli(['keys', 'show', key.id, '--data-dir', dataDir]).stdout, /\bCACHE\b/);
  const off = runCli(['quota', 'set', key.id, '--cache', 'false', '--data-dir', dataDir, '--json']);
  assert.equal((JSON.parse(off.stdout) as { cache: boolean }).cache, false);
  const listed = JSON.parse(runCli(['keys', 'list', '--data-dir', dataDir, '--json']).stdout) as { id: string; cache: boolean }[];
  assert.equal(listed.find((view) => view.id === key.id)?.cache, false);
  const plain = JSON.parse(runCli(['keys', 'create', '--name', 'plain', '--data-dir', dataDir, '--json']).stdout) as { cache: boolean };
  assert.equal(plain.cache, false);
  const bad = runCli(['quota', 'set', key.id, '--cache', 'maybe', '--data-dir', dataDir]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /'maybe' is not a yes\/no value/);
});

test('usage survives kill -9 of the server', async () => {
  const dataDir = tempDir();
  const serve = await startServe(['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1']);
  const created = (await (
    await authedFetch(`${serve.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name": "crash"}' })
  ).json()) as { id: string; key: string };
  const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: created.key, maxRetries: 0 });
  let completionTokens = 0;
  for (let i = 0; i < 5; i++) completionTokens += (await client.completions.create({ model: tinyModelId, prompt: 'x', max_tokens: 3 })).usage!.completion_tokens;
  // The server commits a request's usage a moment after the client has the response. Instead of
  // sleeping and hoping that was long enough (it was not, on a loaded machine), read the file until
  // the server has committed all five, by itself (the admin usage route would flush it), then kill it.
  const usageRow = () => {
    const db = new Database(path.join(dataDir, 'llmsvc.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT requests, completion_tokens FROM usage_daily WHERE key_id = ?').get(created.id) as { requests: number; completion_tokens: number } | undefined;
    } finally {
      db.close();
    }
  };
  assert.ok(await waitFor(() => usageRow()?.requests === 5), `the server did not commit the usage of five requests: ${JSON.stringify(usageRow())}`);
  serve.child.kill('SIGKILL');
  await serve.exited;
  assert.deepEqual(usageRow(), { requests: 5, completion_tokens: completionTokens });
});
