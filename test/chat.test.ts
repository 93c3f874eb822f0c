import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliPath } from './support/cli.js';
import { sqliteDbOf, startTestServer, tempDir, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// `llmsvc chat` against a real server, driven as a script drives it: prompts piped on stdin.

let server: TestServer;

before(async () => {
  // Prompts are logged, so the test can read what the model was sent (the history) from SQLite.
  server = await startTestServer({ context_size: 512, log_prompts: true });
});
after(() => server.stop());

function chat(args: string[], stdin: string, env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'chat', ...args], { env: { ...process.env, LLMSVC_API_KEY: testAdminKey, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout, stderr })));
}

async function loggedPrompts(): Promise<{ messages: { role: string; content: string }[] }[]> {
  await server.service.store.ledger.flush();
  const rows = sqliteDbOf(server.service.store).prepare("SELECT prompt_text FROM request_log WHERE route = '/v1/chat/completions' AND status = 200 ORDER BY created_at").all() as { prompt_text: string }[];
  return rows.map((row) => ({ messages: JSON.parse(row.prompt_text) }));
}

test('chat reads one prompt per line from a pipe, streams each answer, keeps the history, and stops at /bye', async () => {
  const result = await chat([tinyModelId, '--url', server.url, '--max-tokens', '6', '--seed', '1', '--system', 'Be brief.'], 'Hello\n\nWhat is a quokka?\n/bye\nnever sent\n');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  const prompts = await loggedPrompts();
  assert.equal(prompts.length, 2, 'two prompts: the empty line is skipped and nothing after /bye is sent');
  const [first, second] = prompts.map((prompt) => prompt.messages);
  assert.deepEqual(first!.map((m) => m.role), ['system', 'user']);
  assert.deepEqual(second!.map((m) => m.role), ['system', 'user', 'assistant', 'user'], 'the second turn carries the first');
  assert.equal(second![1]!.content, 'Hello');
  assert.equal(second![3]!.content, 'What is a quokka?');
  // The first answer, as the model streamed it, is what went back as history and what was printed.
  assert.ok(result.stdout.startsWith(`${second![2]!.content}\n`), 'answers are printed as they were streamed');
});

test('chat with no model chats with the first the server lists; the key comes from the data dir admin.key', async () => {
  const dataDir = tempDir();
  try {
    fs.writeFileSync(path.join(dataDir, 'admin.key'), `${testAdminKey}\n`, { mode: 0o600 });
    const result = await chat(['--url', `${server.url}/v1`, '--data-dir', dataDir, '--max-tokens', '3', '--seed', '2'], 'hi\n', { LLMSVC_API_KEY: '' });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.endsWith('\n'));
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test('chat errors say what to do, and a script sees a non-zero exit status', async () => {
  const unknownModel = await chat(['no-such-model', '--url', server.url], 'hi\nagain\n');
  assert.equal(unknownModel.status, 1);
  assert.match(unknownModel.stderr, /The model 'no-such-model' does not exist/);
  const noServer = await chat(['--url', 'http://127.0.0.1:1'], 'hi\n');
  assert.equal(noServer.status, 1);
  assert.match(noServer.stderr, /Cannot reach llmsvc at http:\/\/127\.0\.0\.1:1: start it with 'llmsvc serve', or give its address with --url/);
  const noKey = await chat(['--url', server.url, '--data-dir', tempDir()], 'hi\n', { LLMSVC_API_KEY: '' });
  assert.equal(noKey.status, 1);
  assert.match(noKey.stderr, /No API key: set LLMSVC_API_KEY/);
});
