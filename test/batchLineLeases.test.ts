// Batch lines are claimed with leases (core/store/batches.ts claimLines, core/batches/worker.ts):
// on SQLite and PostgreSQL alike; on PostgreSQL, concurrent claimers and several workers on one
// database each get a line once, a dead worker's lines are taken over after its lease, and a dead
// process of this host gives its lines up at once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { BatchWorker, type LineExecutor } from '../core/batches/worker.js';
import { newOwnerId } from '../core/jobs/owner.js';
import { DataDirBlobStore, FileContents } from '../core/storage/index.js';
import { BatchRepository, type BatchStore, type NewBatch, type NewBatchLine } from '../core/store/batches.js';
import { PostgresBatchRepository } from '../core/store/postgres/batches.js';
import { PostgresStore } from '../core/store/postgres/store.js';
import { openBothEngines, sameOnBothEngines, type BothEngines } from './support/bothEngines.js';
import { createDatabase } from './support/postgres.js';
import { tempDir } from './support/server.js';
import { waitFor } from './support/wait.js';

let both: BothEngines;
let engines: [BatchStore, BatchStore];
/** A superuser URL of the test's PostgreSQL server, for more databases. */
let serverUrl: string;
let databases = 0;

const start = Date.UTC(2031, 0, 1);

function newBatch(id: string, status: NewBatch['status'] = 'in_progress'): NewBatch {
  const createdAt = Math.floor(start / 1000);
  return { id, api: 'anthropic', keyId: null, endpoint: '/v1/messages', inputFileId: null, completionWindow: '24h', metadata: null, status, createdAt, inProgressAt: createdAt, expiresAt: createdAt + 86_400, updatedAt: start };
}

function newLines(count: number): NewBatchLine[] {
  return Array.from({ length: count }, (_, index) => ({ line: index + 1, customId: `c${index + 1}`, model: 'm', body: JSON.stringify({ line: index + 1 }) }));
}

/** A fresh PostgreSQL database on the test's server, opened as a node opens it. */
async function postgresStore(url?: string): Promise<{ store: PostgresStore; url: string }> {
  const databaseUrl = url ?? (await createDatabase(serverUrl, `llmsvc_leases_${process.pid}_${++databases}`));
  return { store: await PostgresStore.open(databaseUrl, tempDir(), { onConnectionError: () => undefined }), url: databaseUrl };
}

/** A worker of Anthropic batches (no input or output files: no blob store needed). */
function worker(store: PostgresStore, execute: LineExecutor, leaseMs: number, linesInFlightPerModel = 4): BatchWorker {
  return new BatchWorker({ store, contents: {} as FileContents, execute, clock: Date.now, maxLines: 1000, pollMs: 20, leaseMs, linesInFlightPerModel });
}

/** An executor that answers each line (after a moment, so that workers overlap) and counts them. */
function countingExecutor(calls: Map<number, number>): LineExecutor {
  return async (request) => {
    const { line } = JSON.parse(request.body) as { line: number };
    calls.set(line, (calls.get(line) ?? 0) + 1);
    await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 5));
    return { statusCode: 200, body: { type: 'message', line }, requestId: `req_${line}` };
  };
}

async function batchEnded(store: PostgresStore, id: string): Promise<boolean> {
  return (await store.batches.find(id))?.status === 'completed';
}

/** Every line of the batch succeeded, each with its own line's result. */
async function assertEveryLineRecordedOnce(store: PostgresStore, id: string, count: number): Promise<void> {
  const lines = await store.batches.allLines(id);
  assert.equal(lines.length, count);
  for (const line of lines) {
    assert.equal(line.state, 'succeeded', `line ${line.line}`);
    assert.deepEqual(JSON.parse(line.result!), { type: 'message', line: line.line });
  }
  assert.deepEqual(await store.batches.counts(id), { pending: 0, succeeded: count, errored: 0, canceled: 0, expired: 0, total: count });
}

describe('batch line leases', () => {
  before(async () => {
    both = await openBothEngines('llmsvc_leases');
    engines = [new BatchRepository(both.sqlite), new PostgresBatchRepository(both.pool)];
    const url = new URL(both.url);
    url.pathname = '/postgres';
    serverUrl = url.href;
  });
  after(async () => {
    await both.close();
  });

  test('claim, renew, release, finish and close give the same results on SQLite and PostgreSQL', async () => {
    const result = await sameOnBothEngines(engines, async (batches) => {
      await batches.create(newBatch('msgbatch_same'), newLines(10));
      const claims = (lines: { line: number }[]) => lines.map((line) => line.line);
      const a = claims(await batches.claimLines('msgbatch_same', 'host:1:a', 3, start, 1000));
      const b = claims(await batches.claimLines('msgbatch_same', 'host:2:b', 3, start, 1000));
      const owners = await batches.leaseOwners('msgbatch_same', start);
      // a keeps line 1 and 2 past their first lease; line 3 it gives back; b's run out.
      const renewed = await batches.renewLeases('msgbatch_same', 'host:1:a', [1, 2], start + 5000);
      const notMine = await batches.renewLeases('msgbatch_same', 'host:1:a', [4], start + 5000);
      const released = await batches.releaseLines('msgbatch_same', 'host:1:a', [3]);
      const afterExpiry = claims(await batches.claimLines('msgbatch_same', 'host:3:c', 10, start + 2000, 1000));
      const finished = await batches.finishLine('msgbatch_same', 1, { state: 'succeeded', statusCode: 200, requestId: 'r1', result: '{}', promptTokens: 1, completionTokens: 2, finishedAt: start + 2500 });
      const ownersLater = await batches.leaseOwners('msgbatch_same', start + 2500);
      // c lets all its lines go; closing then leaves line 2 (a's lease lives) pending.
      const releasedAll = await batches.releaseLines('msgbatch_same', 'host:3:c');
      const closed = await batches.closePending('msgbatch_same', 'canceled', start + 3000);
      const nothingLeft = claims(await batches.claimLines('msgbatch_same', 'host:3:c', 10, start + 3000, 1000));
      const lines = (await batches.allLines('msgbatch_same')).map((line) => [line.line, line.state]);
      // Once a's lease has run out, its line is closed too.
      const closedLater = await batches.closePending('msgbatch_same', 'canceled', start + 6000);
      return { a, b, owners, renewed, notMine, released, afterExpiry, finished, ownersLater, releasedAll, closed, nothingLeft, lines, closedLater, counts: await batches.counts('msgbatch_same') };
    });
    assert.deepEqual(result.a, [1, 2, 3]);
    assert.deepEqual(result.b, [4, 5, 6], 'a second claimer gets the next lines');
    assert.deepEqual(result.owners, ['host:1:a', 'host:2:b']);
    assert.equal(result.renewed, 2);
    assert.equal(result.notMine, 0, 'a lease held by another owner is not renewed');
    assert.equal(result.released, 1);
    assert.deepEqual(result.afterExpiry, [3, 4, 5, 6, 7, 8, 9, 10], 'released and expired lines are claimable; renewed ones are not');
    assert.equal(result.finished, true);
    assert.deepEqual(result.ownersLater, ['host:1:a', 'host:3:c']);
    assert.equal(result.releasedAll, 8);
    assert.equal(result.closed, 8, 'lines under a live lease stay pending');
    assert.deepEqual(result.nothingLeft, []);
    assert.deepEqual(result.lines.slice(0, 3), [[1, 'succeeded'], [2, 'pending'], [3, 'canceled']]);
    assert.equal(result.closedLater, 1);
    assert.deepEqual(result.counts, { pending: 0, succeeded: 1, errored: 0, canceled: 9, expired: 0, total: 10 });
  });

  test('three claimers at once on PostgreSQL: each of 200 lines is claimed exactly once', async () => {
    const { store, url } = await postgresStore();
    const others = await Promise.all([postgresStore(url), postgresStore(url)]);
    try {
      await store.batches.create(newBatch('msgbatch_race'), newLines(200));
      const claimers = [store, ...others.map((other) => other.store)].map(async (node) => {
        const owner = newOwnerId();
        const mine: number[] = [];
        // Small claims, many rounds, so that the claimers' statements interleave.
        for (;;) {
          const lines = await node.batches.claimLines('msgbatch_race', owner, 7, Date.now(), 60_000);
          if (lines.length === 0) return mine;
          mine.push(...lines.map((line) => line.line));
        }
      });
      const claimed = await Promise.all(claimers);
      const all = claimed.flat().sort((a, b) => a - b);
      assert.deepEqual(all, Array.from({ length: 200 }, (_, index) => index + 1), 'every line once, none twice');
      assert.ok(claimed.filter((lines) => lines.length > 0).length >= 2, `the claimers shared the lines: ${claimed.map((lines) => lines.length)}`);
    } finally {
      await Promise.all([store.close(), ...others.map((other) => other.store.close())]);
    }
  });

  test('two workers on one PostgreSQL run one batch: every line executed once and recorded', async () => {
    const { store, url } = await postgresStore();
    const { store: second } = await postgresStore(url);
    const calls = new Map<number, number>();
    const byWorker = [0, 0];
    const executor = (index: number): LineExecutor => {
      const count = countingExecutor(calls);
      return (request) => {
        byWorker[index]!++;
        return count(request);
      };
    };
    const workers = [worker(store, executor(0), 5000), worker(second, executor(1), 5000)];
    try {
      await store.batches.create(newBatch('msgbatch_two'), newLines(120));
      for (const each of workers) each.start();
      assert.ok(await waitFor(() => batchEnded(store, 'msgbatch_two'), 60_000), 'the batch completed');
      assert.equal(calls.size, 120);
      assert.deepEqual([...calls.entries()].filter(([, n]) => n !== 1), [], 'no line sent twice');
      assert.ok(byWorker[0]! > 0 && byWorker[1]! > 0, `both workers ran lines: ${byWorker}`);
      await assertEveryLineRecordedOnce(store, 'msgbatch_two', 120);
    } finally {
      await Promise.all(workers.map((each) => each.stop()));
      await Promise.all([store.close(), second.close()]);
    }
  });

  test('a worker that hangs and dies holding lines: another takes them over after the lease and completes the batch', async () => {
    const { store: dying, url } = await postgresStore();
    const { store } = await postgresStore(url);
    const hung: number[] = [];
    let unhang: () => void = () => {};
    const hangs = new Promise<void>((resolve) => (unhang = resolve));
    const first = worker(
      dying,
      async (request) => {
        hung.push((JSON.parse(request.body) as { line: number }).line);
        await hangs;
        return { statusCode: 200, body: { type: 'message', line: -1 }, requestId: null };
      },
      1000,
    );
    const calls = new Map<number, number>();
    const second = worker(store, countingExecutor(calls), 1000);
    try {
      await store.batches.create(newBatch('msgbatch_hung'), newLines(30));
      first.start();
      assert.ok(await waitFor(() => hung.length === 4), 'the first worker holds its lines');
      // The node dies: its connections go, its leases are no longer renewed.
      await dying.close();
      second.start();
      assert.ok(await waitFor(() => batchEnded(store, 'msgbatch_hung'), 60_000), 'the batch completed');
      for (const line of hung) assert.equal(calls.get(line), 1, `line ${line}, held by the dead worker, ran on the other once`);
      assert.equal(calls.size, 30);
      assert.deepEqual([...calls.entries()].filter(([, n]) => n !== 1), [], 'no line sent twice by the live worker');
      await assertEveryLineRecordedOnce(store, 'msgbatch_hung', 30);
    } finally {
      unhang();
      await Promise.all([first.stop(), second.stop()]);
      await store.close();
    }
  });

  test('two workers validate, run and finalize one OpenAI batch: its lines once, one output file', async () => {
    const { store, url } = await postgresStore();
    const { store: second } = await postgresStore(url);
    // One blob store for both nodes (as S3 would be).
    const blobs = new DataDirBlobStore(path.join(tempDir(), 'blobs'));
    const input = Array.from({ length: 60 }, (_, index) => JSON.stringify({ custom_id: `c${index + 1}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'm', messages: [{ role: 'user', content: String(index + 1) }] } }));
    const stored = await new FileContents(store, blobs).write(Readable.from([input.join('\n') + '\n']));
    const createdAt = Math.floor(Date.now() / 1000);
    await store.files.insert({ id: 'file-input', filename: 'input.jsonl', bytes: stored.bytes, purpose: 'batch', createdAt, sha256: stored.sha256 }, stored.key);
    const calls = new Map<string, number>();
    const execute: LineExecutor = async (request) => {
      const content = (JSON.parse(request.body) as { messages: { content: string }[] }).messages[0]!.content;
      calls.set(content, (calls.get(content) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 5));
      return { statusCode: 200, body: { object: 'chat.completion', choices: [], content }, requestId: null };
    };
    const workers = [store, second].map((node) => new BatchWorker({ store: node, contents: new FileContents(node, blobs), execute, clock: Date.now, maxLines: 1000, pollMs: 20, leaseMs: 5000, linesInFlightPerModel: 4 }));
    try {
      await store.batches.create({ ...newBatch('batch_openai', 'validating'), api: 'openai', endpoint: '/v1/chat/completions', inputFileId: 'file-input', inProgressAt: null, createdAt });
      // Both see it validating in their first pass.
      await Promise.all(workers.map((each) => each.tick()));
      for (const each of workers) each.start();
      assert.ok(await waitFor(async () => (await store.batches.find('batch_openai'))?.status === 'completed', 60_000), 'the batch completed');
      assert.equal(calls.size, 60);
      assert.deepEqual([...calls.entries()].filter(([, n]) => n !== 1), [], 'no line sent twice');
      const batch = (await store.batches.find('batch_openai'))!;
      const outputs = (await store.files.list({ limit: 100, order: 'asc' }, 'batch_output')).items;
      assert.deepEqual(outputs.map((file) => file.id), [batch.outputFileId], 'finalized once: one output file');
      assert.equal(batch.errorFileId, null);
      const output = (await new FileContents(store, blobs).read(batch.outputFileId!))!.toString().trim().split('\n');
      assert.deepEqual(output.map((line) => (JSON.parse(line) as { custom_id: string }).custom_id).sort(), input.map((_, index) => `c${index + 1}`).sort());
    } finally {
      await Promise.all(workers.map((each) => each.stop()));
      await Promise.all([store.close(), second.close()]);
    }
  });

  test('lines leased by a dead process of this host are claimed at once, not after the lease', async () => {
    const { store } = await postgresStore();
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.once('exit', resolve));
    const deadOwner = `${os.hostname()}:${child.pid}:0123456789ab`;
    const calls = new Map<number, number>();
    // Leases ten minutes long, on both sides: only the process check can free them in time.
    const restarted = worker(store, countingExecutor(calls), 600_000);
    try {
      await store.batches.create(newBatch('msgbatch_dead'), newLines(12));
      const held = await store.batches.claimLines('msgbatch_dead', deadOwner, 8, Date.now(), 600_000);
      assert.equal(held.length, 8);
      // A live process of this host (this one, another worker) keeps its lines.
      const live = newOwnerId();
      const kept = (await store.batches.claimLines('msgbatch_dead', live, 2, Date.now(), 600_000)).map((line) => line.line);
      assert.deepEqual(kept, [9, 10]);
      restarted.start();
      assert.ok(await waitFor(() => calls.size === 10, 30_000), 'the dead process’s lines and the free ones ran');
      // Recorded too (a line's lease is cleared when its result is written, after its call).
      assert.ok(await waitFor(async () => (await store.batches.counts('msgbatch_dead')).succeeded === 10, 30_000), 'the ten results were recorded');
      for (const line of [...held.map((each) => each.line), 11, 12]) assert.equal(calls.get(line), 1, `line ${line}`);
      assert.equal(calls.has(9) || calls.has(10), false, 'the live owner’s lines were left to it');
      assert.deepEqual(await store.batches.leaseOwners('msgbatch_dead', Date.now()), [live]);
      assert.equal((await store.batches.counts('msgbatch_dead')).succeeded, 10);
    } finally {
      await restarted.stop();
      await store.close();
    }
  });
});
