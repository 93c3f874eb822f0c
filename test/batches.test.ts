import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import type { Batch } from 'openai/resources/batches';
import { listBatchJobs } from '../core/batches/index.js';
import { schemaErrors } from './support/openapi.js';
import { cliPath, startServe } from './support/cli.js';
import { sqliteDbOf, startTestServer, tempDir, testAdminKey, testModelsDir, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

// The OpenAI Batch API through the official SDK, against a real server and the tiny model.

const chatBody = (content: string, seed: number) => ({ model: tinyModelId, messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0, seed });

function jsonl(lines: unknown[]): string {
  return lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n') + '\n';
}

async function upload(client: OpenAI, text: string) {
  return client.files.create({ file: await toFile(Buffer.from(text), 'input.jsonl'), purpose: 'batch' });
}

async function waitForStatus(client: OpenAI, id: string, statuses: Batch['status'][]): Promise<Batch> {
  let batch: Batch | undefined;
  await waitFor(async () => {
    batch = await client.batches.retrieve(id);
    return statuses.includes(batch.status);
  }, 60_000);
  return batch!;
}

async function fileLines(client: OpenAI, id: string | null | undefined): Promise<Record<string, any>[]> {
  if (!id) return [];
  const text = await (await client.files.content(id)).text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe('OpenAI Batch API', () => {
  let server: TestServer;
  let client: OpenAI;
  let now = Date.now();
  before(async () => {
    server = await startTestServer({ context_size: 256 }, {}, { clock: () => now });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  });
  after(() => server.stop());

  test('a 20-line batch with bad lines completes with exact counts; output and error files validate against OpenAI’s schemas', async () => {
    const user = await server.service.keys.create({ name: 'batcher', scope: 'user', models: [tinyModelId, 'missing-model'], cache: false, expires_at: null });
    const userClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: user.secret, maxRetries: 0 });
    const lines: unknown[] = [];
    for (let index = 0; index < 17; index++) lines.push({ custom_id: `ok-${index}`, method: 'POST', url: '/v1/chat/completions', body: chatBody(`Say ${index}`, index) });
    // Well-formed lines that fail when they run, as the live API would fail them.
    lines.push({ custom_id: 'no-such-model', method: 'POST', url: '/v1/chat/completions', body: { ...chatBody('x', 1), model: 'missing-model' } });
    lines.push({ custom_id: 'not-allowed', method: 'POST', url: '/v1/chat/completions', body: { ...chatBody('x', 1), model: 'smoke-tiny' } });
    lines.push({ custom_id: 'bad-param', method: 'POST', url: '/v1/chat/completions', body: { ...chatBody('x', 1), temperature: 9 } });
    const input = await upload(userClient, jsonl(lines));
    assert.deepEqual(schemaErrors('OpenAIFile', input), []);
    assert.equal(input.purpose, 'batch');

    const created = await userClient.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h', metadata: { run: 'nightly' } });
    assert.deepEqual(schemaErrors('Batch', created), []);
    assert.ok(['validating', 'in_progress'].includes(created.status));
    assert.equal(created.expires_at, created.created_at + 24 * 3600);

    const done = await waitForStatus(userClient, created.id, ['completed', 'failed']);
    assert.deepEqual(schemaErrors('Batch', done), []);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 20, completed: 17, failed: 3 });
    assert.deepEqual(done.metadata, { run: 'nightly' });
    for (const field of ['in_progress_at', 'finalizing_at', 'completed_at'] as const) assert.equal(typeof done[field], 'number', field);

    const output = await fileLines(userClient, done.output_file_id);
    const errors = await fileLines(userClient, done.error_file_id);
    assert.deepEqual(output.map((line) => line.custom_id).sort(), Array.from({ length: 17 }, (_, index) => `ok-${index}`).sort());
    for (const line of output) {
      assert.equal(line.error, null);
      assert.equal(line.response.status_code, 200);
      assert.match(line.response.request_id, /^req/);
      assert.deepEqual(schemaErrors('CreateChatCompletionResponse', line.response.body), []);
    }
    const byId = new Map(errors.map((line) => [line.custom_id, line]));
    assert.deepEqual([...byId.keys()].sort(), ['bad-param', 'no-such-model', 'not-allowed']);
    assert.equal(byId.get('no-such-model')!.response.status_code, 404);
    assert.equal(byId.get('no-such-model')!.response.body.error.code, 'model_not_found');
    assert.equal(byId.get('not-allowed')!.response.status_code, 403, 'the submitting key’s model permissions apply');
    assert.equal(byId.get('bad-param')!.response.status_code, 400);
    for (const line of errors) assert.deepEqual(schemaErrors('ErrorResponse', line.response.body), []);

    const outputFile = await userClient.files.retrieve(done.output_file_id!);
    assert.deepEqual(schemaErrors('OpenAIFile', outputFile), []);
    assert.equal(outputFile.purpose, 'batch_output');

    // Usage is the key's, as for live requests: 17 successful chat requests were accounted.
    await server.service.store.ledger.flush();
    const usage = await server.service.store.usage.tokensBetween(user.key.id, '2000-01-01', '2999-12-31');
    assert.ok(usage > 0, 'the batch’s tokens count against the submitting key');

    // The admin API's job list (GET /admin/v1/jobs) shows batches in the jobs' shape.
    const job = (await listBatchJobs(server.service.store)).find((entry) => entry.id === created.id)!;
    assert.deepEqual(
      { kind: job.kind, state: job.state, done: job.progress_done, total: job.progress_total, error: job.error },
      { kind: 'batch', state: 'completed', done: 20, total: 20, error: null },
    );
    assert.equal(job.created_at, created.created_at * 1000);

    const list = (await (await userClient.batches.list({ limit: 10 }).asResponse()).json()) as { data: Batch[] };
    assert.deepEqual(schemaErrors('ListBatchesResponse', list), []);
    assert.deepEqual(
      list.data.map((batch) => batch.id),
      [created.id],
    );
  });

  test('/v1/completions and /v1/embeddings batches answer in those endpoints’ schemas', async () => {
    const cases = [
      { endpoint: '/v1/completions' as const, schema: 'CreateCompletionResponse', body: (index: number) => ({ model: tinyModelId, prompt: `Once ${index}`, max_tokens: 3, temperature: 0, seed: index }) },
      { endpoint: '/v1/embeddings' as const, schema: 'CreateEmbeddingResponse', body: (index: number) => ({ model: tinyModelId, input: `text ${index}` }) },
    ];
    for (const { endpoint, schema, body } of cases) {
      const lines = [0, 1, 2].map((index) => ({ custom_id: `${endpoint}-${index}`, method: 'POST', url: endpoint, body: body(index) }));
      const input = await upload(client, jsonl(lines));
      const created = await client.batches.create({ input_file_id: input.id, endpoint, completion_window: '24h' });
      const done = await waitForStatus(client, created.id, ['completed', 'failed']);
      assert.deepEqual(done.request_counts, { total: 3, completed: 3, failed: 0 }, endpoint);
      for (const line of await fileLines(client, done.output_file_id)) assert.deepEqual(schemaErrors(schema, line.response.body), [], endpoint);
    }
  });

  test('batches share the capacity: a small batch submitted after a large one is not stuck behind it', async () => {
    const large = Array.from({ length: 40 }, (_, index) => ({ custom_id: `large-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Large ${index}`, index), max_tokens: 24 } }));
    const small = Array.from({ length: 3 }, (_, index) => ({ custom_id: `small-${index}`, method: 'POST', url: '/v1/chat/completions', body: chatBody(`Small ${index}`, index) }));
    const first = await client.batches.create({ input_file_id: (await upload(client, jsonl(large))).id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await client.batches.retrieve(first.id)).request_counts!.completed >= 1, 60_000);
    const second = await client.batches.create({ input_file_id: (await upload(client, jsonl(small))).id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const smallDone = await waitForStatus(client, second.id, ['completed']);
    const largeThen = await client.batches.retrieve(first.id);
    assert.equal(smallDone.request_counts!.completed, 3);
    assert.equal(largeThen.status, 'in_progress', `the large batch is still running (${largeThen.request_counts!.completed} of 40 done)`);
    await client.batches.cancel(first.id);
    await waitForStatus(client, first.id, ['cancelled']);
  });

  test('a malformed input file fails validation with per-line errors, and nothing runs', async () => {
    const good = (id: string) => ({ custom_id: id, method: 'POST', url: '/v1/chat/completions', body: chatBody('hi', 1) });
    const text = jsonl([
      good('a'),
      '{not json',
      { method: 'POST', url: '/v1/chat/completions', body: chatBody('hi', 1) },
      good('a'),
      { ...good('e'), url: '/v1/embeddings' },
      { ...good('f'), method: 'GET' },
      { custom_id: 'g', method: 'POST', url: '/v1/chat/completions', body: { messages: [] } },
    ]);
    const input = await upload(client, text);
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const failed = await waitForStatus(client, created.id, ['failed', 'completed']);
    assert.deepEqual(schemaErrors('Batch', failed), []);
    assert.equal(failed.status, 'failed');
    assert.equal(typeof failed.failed_at, 'number');
    assert.deepEqual(failed.request_counts, { total: 0, completed: 0, failed: 0 });
    assert.deepEqual(
      failed.errors!.data!.map((error) => [error.line, error.code, error.param]),
      [
        [2, 'invalid_json_line', null],
        [3, 'missing_required_parameter', 'custom_id'],
        [4, 'duplicate_custom_id', 'custom_id'],
        [5, 'mismatched_endpoint', 'url'],
        [6, 'invalid_method', 'method'],
        [7, 'missing_required_parameter', 'body.model'],
      ],
    );
    for (const error of failed.errors!.data!) assert.ok(error.message!.length > 20, error.message);
    assert.equal(failed.output_file_id, undefined);
  });

  test('bad create requests are 400s/404s in OpenAI’s error shape', async () => {
    await assert.rejects(client.batches.create({ input_file_id: 'file-nope', endpoint: '/v1/chat/completions', completion_window: '24h' }), (error: any) => error.status === 404);
    const assistantsFile = await client.files.create({ file: await toFile(Buffer.from('hello'), 'a.txt'), purpose: 'assistants' });
    await assert.rejects(
      client.batches.create({ input_file_id: assistantsFile.id, endpoint: '/v1/chat/completions', completion_window: '24h' }),
      (error: any) => error.status === 400 && /purpose 'batch'/.test(error.message),
    );
    await assert.rejects(client.batches.create({ input_file_id: assistantsFile.id, endpoint: '/v1/moderations' as any, completion_window: '24h' }), (error: any) => error.status === 400);
    await assert.rejects(client.batches.retrieve('batch_nope'), (error: any) => error.status === 404);
  });

  test('cancel stops new lines at once; the batch ends cancelled with every line in exactly one file', async () => {
    const lines = Array.from({ length: 30 }, (_, index) => ({ custom_id: `c-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Count ${index}`, index), max_tokens: 24 } }));
    const input = await upload(client, jsonl(lines));
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitForStatus(client, created.id, ['in_progress']);
    const cancelling = await client.batches.cancel(created.id);
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status));
    assert.equal(typeof cancelling.cancelling_at, 'number');
    const cancelled = await waitForStatus(client, created.id, ['cancelled']);
    assert.deepEqual(schemaErrors('Batch', cancelled), []);
    const finished = cancelled.request_counts!.completed + cancelled.request_counts!.failed;
    assert.ok(finished < 30, `cancel stopped the batch before its end (${finished} of 30 ran)`);
    const output = await fileLines(client, cancelled.output_file_id);
    const errors = await fileLines(client, cancelled.error_file_id);
    const ids = [...output, ...errors].map((line) => line.custom_id).sort();
    assert.deepEqual(ids, lines.map((line) => line.custom_id).sort(), 'every line exactly once');
    assert.ok(errors.some((line) => line.error?.code === 'batch_cancelled'));
    await assert.rejects(client.batches.cancel(created.id), (error: any) => error.status === 400);
  });

  test('a key out of quota pauses its batch (no line fails) until the quota resets the next UTC day', async () => {
    // What one line costs (the same prompt length for every line), measured with the admin key.
    const probe = await client.chat.completions.create(chatBody('Quota 0', 0) as never);
    const perLine = probe.usage!.prompt_tokens + 4; // the reservation: prompt plus max_tokens
    const user = await server.service.keys.create({ name: 'small-quota', scope: 'user', models: ['*'], daily_tokens: 3 * perLine, cache: false, expires_at: null });
    const userClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: user.secret, maxRetries: 0 });
    // 23:00 UTC: the quota resets in an hour, well within the batch's 24 h window.
    now = Math.ceil(now / 86_400_000) * 86_400_000 + 23 * 3600 * 1000;
    const lines = Array.from({ length: 5 }, (_, index) => ({ custom_id: `q-${index}`, method: 'POST', url: '/v1/chat/completions', body: chatBody(`Quota ${index + 1}`, index) }));
    const input = await upload(userClient, jsonl(lines));
    const created = await userClient.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await userClient.batches.retrieve(created.id)).request_counts!.completed >= 1, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the worker meets the quota and pauses
    const paused = await userClient.batches.retrieve(created.id);
    assert.equal(paused.status, 'in_progress', 'paused, not failed');
    assert.equal(paused.request_counts!.failed, 0, 'no line is failed for the quota');
    assert.ok(paused.request_counts!.completed < 5, `the quota stopped the batch (${paused.request_counts!.completed} of 5 ran)`);
    const metrics = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${testAdminKey}` } })).text();
    assert.match(metrics, /llmsvc_batches\{status="in_progress"\} 1/);
    assert.match(metrics, /llmsvc_batch_queue_depth [1-9]/);
    assert.match(metrics, /llmsvc_batch_lines_total\{result="succeeded"\} [1-9]/);
    now += 2 * 3600 * 1000; // 01:00 the next day: the daily quota has reset
    const done = await waitForStatus(userClient, created.id, ['completed', 'expired']);
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.request_counts, { total: 5, completed: 5, failed: 0 });
  });

  test('expiry: when the injected clock passes the 24 h window, unfinished lines expire and finished ones are kept', async () => {
    const lines = Array.from({ length: 30 }, (_, index) => ({ custom_id: `x-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Go ${index}`, index), max_tokens: 24 } }));
    const input = await upload(client, jsonl(lines));
    const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts!.completed >= 1, 60_000);
    now += 24 * 3600 * 1000 + 1000;
    const expired = await waitForStatus(client, created.id, ['expired']);
    assert.deepEqual(schemaErrors('Batch', expired), []);
    assert.equal(typeof expired.expired_at, 'number');
    const output = await fileLines(client, expired.output_file_id);
    const errors = await fileLines(client, expired.error_file_id);
    assert.ok(output.length >= 1, 'finished lines are kept');
    assert.ok(errors.some((line) => line.error?.code === 'batch_expired'));
    assert.equal(output.length + errors.length, 30);
  });
});

describe('batches: routing, scheduling and crashes', () => {
  test('a batch on a routed upstream model (a second llmsvc on loopback) runs through the router', async () => {
    const upstream = await startTestServer({ context_size: 256 });
    const gateway = await startTestServer(
      {
        context_size: 256,
        providers: [{ id: 'up', type: 'openai-compatible', base_url: `${upstream.url}/v1`, api_key_env: 'UP_KEY', models: [tinyModelId] }],
        routes: [{ model: 'team-default', targets: [{ provider: 'up', model: tinyModelId }] }],
      },
      { UP_KEY: testAdminKey },
    );
    try {
      const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const lines = Array.from({ length: 5 }, (_, index) => ({ custom_id: `r-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Hi ${index}`, index), model: 'team-default' } }));
      const input = await upload(client, jsonl(lines));
      const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      const done = await waitForStatus(client, created.id, ['completed', 'failed']);
      assert.deepEqual(done.request_counts, { total: 5, completed: 5, failed: 0 });
      const output = await fileLines(client, done.output_file_id);
      for (const line of output) {
        assert.deepEqual(schemaErrors('CreateChatCompletionResponse', line.response.body), []);
        assert.equal(line.response.body.model, 'team-default');
      }
      // The upstream served them: its request log has the five chat requests.
      await upstream.service.store.ledger.flush();
      const upstreamChats = sqliteDbOf(upstream.service.store).prepare("SELECT COUNT(*) AS n FROM request_log WHERE route = '/v1/chat/completions' AND status = 200").get() as { n: number };
      assert.equal(upstreamChats.n, 5);
    } finally {
      await gateway.stop();
      await upstream.stop();
    }
  });

  test('an interactive request is scheduled before queued batch lines (background priority)', async () => {
    // One sequence for the model, which batch lines may hold too; the worker sends several lines at
    // once, so the others wait in the model's queue. A first-come queue would run them first.
    const server = await startTestServer({ context_size: 256, parallel: 1 });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      await client.chat.completions.create(chatBody('warm up', 1) as never); // the model is loaded before timing order
      const lines = Array.from({ length: 20 }, (_, index) => ({ custom_id: `b-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Batch ${index}`, index), max_tokens: 32 } }));
      const input = await upload(client, jsonl(lines));
      const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts!.completed >= 2, 60_000);
      const sentAt = Date.now();
      await client.chat.completions.create({ ...chatBody('interactive', 3), max_tokens: 2 } as never);
      const answeredAt = Date.now();
      const finishedMeanwhile = sqliteDbOf(server.service.store)
        .prepare('SELECT COUNT(*) AS n FROM batch_lines WHERE batch_id = ? AND finished_at > ? AND finished_at <= ?')
        .get(created.id, sentAt, answeredAt) as { n: number };
      // At most the line that held the sequence when it arrived (and one recorded a moment late).
      assert.ok(finishedMeanwhile.n <= 2, `${finishedMeanwhile.n} batch lines finished while the interactive request waited`);
      await client.batches.cancel(created.id);
      await waitForStatus(client, created.id, ['cancelled']);
    } finally {
      await server.stop();
    }
  });

  test('batch lines with prompts longer than their share of a decode step answer exactly as the same requests live', async () => {
    // Batch prompts are decoded in chunks of the step's background budget (interactiveFirst.ts);
    // greedy answers must not depend on it. The live answers come from a server of their own, so
    // that no batch line starts from a prompt already evaluated live; four lines run side by side.
    const prompt = (index: number) => `Line ${index}. ` + Array.from({ length: 24 }, (_, word) => `word${(word * 7 + index) % 31}`).join(' ');
    const bodies = Array.from({ length: 4 }, (_, index) => ({ ...chatBody(prompt(index), index), max_tokens: 12 }));
    const liveServer = await startTestServer({ context_size: 256, parallel: 1 });
    const live: (string | null)[] = [];
    try {
      const client = new OpenAI({ baseURL: `${liveServer.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      for (const body of bodies) live.push((await client.chat.completions.create(body as never)).choices[0]!.message.content);
    } finally {
      await liveServer.stop();
    }
    const batchServer = await startTestServer({ context_size: 256, parallel: 4 });
    try {
      const client = new OpenAI({ baseURL: `${batchServer.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const input = await upload(client, jsonl(bodies.map((body, index) => ({ custom_id: `long-${index}`, method: 'POST', url: '/v1/chat/completions', body }))));
      const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      const done = await waitForStatus(client, created.id, ['completed', 'failed']);
      assert.equal(done.request_counts!.completed, 4);
      const byId = new Map((await fileLines(client, done.output_file_id)).map((line) => [line.custom_id, line.response.body]));
      for (const index of bodies.keys()) {
        const answer = byId.get(`long-${index}`)!;
        assert.ok(answer.usage.prompt_tokens > 32, `line ${index} has a prompt of ${answer.usage.prompt_tokens} tokens, more than one step's share`);
        assert.equal(answer.choices[0].message.content, live[index], `line ${index}: the batch answer equals the live one`);
      }
    } finally {
      await batchServer.stop();
    }
  });

  test('kill -9 of llmsvc serve in the middle of a batch, then a restart: every line exactly once in the output or error file', async () => {
    const dataDir = tempDir();
    const args = ['--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1', '--context-size', '256'];
    let serve = await startServe(args);
    try {
      let client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const lines: unknown[] = Array.from({ length: 24 }, (_, index) => ({ custom_id: `k-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Line ${index}`, index), max_tokens: 16 } }));
      lines.push({ custom_id: 'k-bad', method: 'POST', url: '/v1/chat/completions', body: { ...chatBody('x', 1), model: 'missing-model' } });
      const input = await upload(client, jsonl(lines));
      const created = await client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
      await waitFor(async () => (await client.batches.retrieve(created.id)).request_counts!.completed >= 3, 60_000);
      const before = await client.batches.retrieve(created.id);
      assert.ok(before.status === 'in_progress' && before.request_counts!.completed < 24, 'killed in the middle of the batch');
      serve.child.kill('SIGKILL');
      await serve.exited;

      serve = await startServe(args);
      client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const done = await waitForStatus(client, created.id, ['completed', 'failed']);
      assert.equal(done.status, 'completed');
      assert.deepEqual(done.request_counts, { total: 25, completed: 24, failed: 1 });
      const output = await fileLines(client, done.output_file_id);
      const errors = await fileLines(client, done.error_file_id);
      const ids = [...output, ...errors].map((line) => line.custom_id).sort();
      assert.deepEqual(ids, lines.map((line) => (line as { custom_id: string }).custom_id).sort(), 'none lost, none duplicated');
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  });
});

describe('llmsvc batch (CLI)', () => {
  test('submit --wait --json, list, show, results --out against a running server', async () => {
    const run = promisify(execFile);
    const server = await startTestServer({ context_size: 256 });
    const dir = tempDir();
    try {
      const env = { ...process.env, LLMSVC_API_KEY: testAdminKey };
      const input = path.join(dir, 'lines.jsonl');
      fs.writeFileSync(input, jsonl(Array.from({ length: 4 }, (_, index) => ({ custom_id: `cli-${index}`, method: 'POST', url: '/v1/chat/completions', body: { ...chatBody(`Hi ${index}`, index), model: 'placeholder' } }))));
      const submitted = await run(process.execPath, [cliPath, 'batch', 'submit', input, '--endpoint', '/v1/chat/completions', '--model', tinyModelId, '--wait', '--json', '--url', server.url], { env });
      const batch = JSON.parse(submitted.stdout) as Batch;
      assert.equal(batch.status, 'completed');
      assert.deepEqual(batch.request_counts, { total: 4, completed: 4, failed: 0 });
      const listed = await run(process.execPath, [cliPath, 'batch', 'list', '--url', server.url], { env });
      assert.match(listed.stdout, new RegExp(`${batch.id}\\s+completed\\s+/v1/chat/completions\\s+4/4`));
      const shown = JSON.parse((await run(process.execPath, [cliPath, 'batch', 'show', batch.id, '--json', '--url', server.url], { env })).stdout) as Batch;
      assert.equal(shown.id, batch.id);
      const out = path.join(dir, 'results.jsonl');
      await run(process.execPath, [cliPath, 'batch', 'results', batch.id, '--out', out, '--url', server.url], { env });
      const results = fs.readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      assert.deepEqual(results.map((line) => line.custom_id).sort(), ['cli-0', 'cli-1', 'cli-2', 'cli-3']);
      assert.ok(results.every((line) => line.response.body.model === tinyModelId), '--model set every line’s model');
    } finally {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
