import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import type { MessageBatch, MessageBatchIndividualResponse } from '@anthropic-ai/sdk/resources/messages/batches';
import { startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

// Anthropic's Message Batches through the official SDK, against a real server and the tiny model.

const params = (content: string, seed: number, maxTokens = 4) => ({
  model: tinyModelId,
  max_tokens: maxTokens,
  temperature: 0,
  metadata: { user_id: `seed-${seed}` },
  messages: [{ role: 'user' as const, content }],
});

const isoPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('Anthropic Message Batches', () => {
  let server: TestServer;
  let client: Anthropic;
  before(async () => {
    server = await startTestServer({ context_size: 256 });
    client = new Anthropic({ baseURL: server.url, apiKey: testAdminKey, maxRetries: 0 });
  });
  after(() => server.stop());

  async function ended(id: string): Promise<MessageBatch> {
    let batch: MessageBatch | undefined;
    await waitFor(async () => (batch = await client.messages.batches.retrieve(id)).processing_status === 'ended', 60_000);
    return batch!;
  }

  async function results(id: string): Promise<MessageBatchIndividualResponse[]> {
    const all: MessageBatchIndividualResponse[] = [];
    for await (const entry of await client.messages.batches.results(id)) all.push(entry);
    return all;
  }

  test('a batch with a bad request ends with exact counts and results in Anthropic’s shapes; delete', async () => {
    const requests = [
      ...Array.from({ length: 8 }, (_, index) => ({ custom_id: `ok-${index}`, params: params(`Say ${index}`, index) })),
      { custom_id: 'no-such-model', params: { ...params('x', 1), model: 'missing-model' } },
      { custom_id: 'bad-temperature', params: { ...params('x', 1), temperature: 5 } },
    ];
    const created = await client.messages.batches.create({ requests });
    assert.equal(created.type, 'message_batch');
    assert.match(created.id, /^msgbatch_/);
    assert.equal(created.processing_status, 'in_progress');
    assert.equal(created.results_url, null);
    assert.match(created.created_at, isoPattern);
    assert.equal(Date.parse(created.expires_at) - Date.parse(created.created_at), 24 * 3600 * 1000);

    const batch = await ended(created.id);
    assert.deepEqual(batch.request_counts, { processing: 0, succeeded: 8, errored: 2, canceled: 0, expired: 0 });
    assert.match(batch.ended_at!, isoPattern);
    assert.equal(batch.results_url, `${server.url}/v1/messages/batches/${created.id}/results`);

    const all = await results(created.id);
    assert.deepEqual(all.map((entry) => entry.custom_id), requests.map((request) => request.custom_id));
    for (const entry of all.slice(0, 8)) {
      assert.equal(entry.result.type, 'succeeded');
      if (entry.result.type !== 'succeeded') continue;
      assert.equal(entry.result.message.type, 'message');
      assert.equal(entry.result.message.role, 'assistant');
      assert.equal(typeof entry.result.message.usage.output_tokens, 'number');
    }
    const [missing, badTemperature] = all.slice(8);
    assert.equal(missing!.result.type, 'errored');
    if (missing!.result.type === 'errored') assert.equal(missing!.result.error.error.type, 'not_found_error');
    if (badTemperature!.result.type === 'errored') assert.equal(badTemperature!.result.error.error.type, 'invalid_request_error');

    const page = await client.messages.batches.list({ limit: 5 });
    assert.ok(page.data.some((entry) => entry.id === created.id));

    const deleted = await client.messages.batches.delete(created.id);
    assert.deepEqual(deleted, { id: created.id, type: 'message_batch_deleted' });
    await assert.rejects(client.messages.batches.retrieve(created.id), (error: any) => error.status === 404 && error.error?.error?.type === 'not_found_error');
  });

  test('cancel: canceling, then ended with the unfinished requests canceled', async () => {
    const requests = Array.from({ length: 30 }, (_, index) => ({ custom_id: `c-${index}`, params: params(`Count ${index}`, index, 24) }));
    const created = await client.messages.batches.create({ requests });
    const canceling = await client.messages.batches.cancel(created.id);
    assert.ok(['canceling', 'ended'].includes(canceling.processing_status));
    assert.match(canceling.cancel_initiated_at!, isoPattern);
    const batch = await ended(created.id);
    assert.ok(batch.request_counts.canceled > 0);
    const counts = batch.request_counts;
    assert.equal(counts.succeeded + counts.errored + counts.canceled, 30);
    const all = await results(created.id);
    assert.equal(all.length, 30);
    assert.equal(all.filter((entry) => entry.result.type === 'canceled').length, counts.canceled);
  });

  test('bad requests: duplicate custom_id, streaming, results before the end, deleting a running batch', async () => {
    await assert.rejects(
      client.messages.batches.create({ requests: [{ custom_id: 'a', params: params('x', 1) }, { custom_id: 'a', params: params('y', 2) }] }),
      (error: any) => error.status === 400 && /Duplicate custom_id/.test(error.message),
    );
    await assert.rejects(
      client.messages.batches.create({ requests: [{ custom_id: 'a', params: { ...params('x', 1), stream: true } as never }] }),
      (error: any) => error.status === 400,
    );
    const running = await client.messages.batches.create({ requests: Array.from({ length: 10 }, (_, index) => ({ custom_id: `r-${index}`, params: params(`Hi ${index}`, index, 24) })) });
    await assert.rejects(client.messages.batches.delete(running.id), (error: any) => error.status === 400);
    const response = await fetch(`${server.url}/v1/messages/batches/${running.id}/results`, { headers: { 'x-api-key': testAdminKey } });
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as any).type, 'error');
    await client.messages.batches.cancel(running.id);
    await ended(running.id);
  });
});
