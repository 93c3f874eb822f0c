// The job queue and the batch tables on SQLite and on PostgreSQL give the same results (JobStore,
// BatchStore: core/store/ and core/store/postgres/), and PostgreSQL's claim hands each job to one
// node when several claim at once. Real SQLite file, real PostgreSQL (started by the test unless
// LLMSVC_TEST_DATABASE_URL names one).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { BatchRepository, JobRepository, type Db } from '../core/store/index.js';
import type { BatchRecord, BatchStore, LineResult, NewBatch, NewBatchLine } from '../core/store/batches.js';
import type { JobStore } from '../core/store/jobs.js';
import { PostgresBatchRepository } from '../core/store/postgres/batches.js';
import { PostgresJobRepository } from '../core/store/postgres/jobs.js';
import { openPostgresPool } from '../core/store/postgres/pool.js';
import { execute, inTransaction } from '../core/store/postgres/sql.js';
import { openBothEngines, sameOnBothEngines, type BothEngines } from './support/bothEngines.js';

interface Engine {
  name: string;
  jobs: JobStore;
  batches: BatchStore;
  /** Leaves a running job without an owner (a row no current llmsvc writes, which requeue with a
   *  null owner must still match). */
  dropOwner(id: string): Promise<void>;
}

const dropOwnerSql = 'UPDATE jobs SET owner = NULL WHERE id = ?';

let both: BothEngines;
let engines: [Engine, Engine];

function onBothEngines<T>(check: (engine: Engine) => Promise<T>): Promise<T> {
  return sameOnBothEngines(engines, check);
}

function sqliteEngine(sqlite: Db): Engine {
  return {
    name: 'sqlite',
    jobs: new JobRepository(sqlite),
    batches: new BatchRepository(sqlite),
    dropOwner: async (id) => void sqlite.prepare(dropOwnerSql).run(id),
  };
}

function postgresEngine(pool: pg.Pool): Engine {
  return {
    name: 'postgres',
    jobs: new PostgresJobRepository(pool),
    batches: new PostgresBatchRepository(pool),
    dropOwner: async (id) => void (await execute(pool, dropOwnerSql, [id])),
  };
}

function batch(id: string, overrides: Partial<NewBatch> = {}): NewBatch {
  return {
    id,
    api: 'openai',
    keyId: 'key_a',
    endpoint: '/v1/chat/completions',
    inputFileId: `file-${id}`,
    completionWindow: '24h',
    metadata: { note: `ünïcode ${id} 📦` },
    status: 'validating',
    createdAt: 1_796_000_000,
    inProgressAt: null,
    expiresAt: 1_796_086_400,
    updatedAt: 1_796_000_000_000,
    ...overrides,
  };
}

function lines(from: number, to: number): NewBatchLine[] {
  return Array.from({ length: to - from + 1 }, (_, index) => ({
    line: from + index,
    customId: `req-${from + index}`,
    model: 'tiny',
    body: JSON.stringify({ messages: [{ role: 'user', content: `line ${from + index} "quoted" \\ é` }] }),
  }));
}

function result(n: number, state: 'succeeded' | 'errored' = 'succeeded'): LineResult {
  return {
    state,
    statusCode: state === 'succeeded' ? 200 : 500,
    requestId: `req_${n}`,
    result: JSON.stringify({ n }),
    promptTokens: state === 'succeeded' ? n : null,
    completionTokens: state === 'succeeded' ? 2 * n : null,
    finishedAt: 1_796_000_500_000 + n,
  };
}

describe('jobs and batches: SQLite and PostgreSQL give the same results', () => {
  before(async () => {
    both = await openBothEngines('llmsvc_engines_jobs');
    engines = [sqliteEngine(both.sqlite), postgresEngine(both.pool)];
  });
  after(async () => {
    await both.close();
  });

  test('jobs: claim in creation order among due jobs of the kinds asked; heartbeat, progress, requeue with and without owner, nextDue, finish, listings', async () => {
    const results = await onBothEngines(async ({ jobs, dropOwner }) => {
      // Three share a creation time: claimed in insertion order.
      await jobs.enqueue('job_1', 'a', { file: 'é 👋', n: 1 }, 1000);
      await jobs.enqueue('job_2', 'b', { n: 2 }, 1000);
      await jobs.enqueue('job_3', 'a', { n: 3 }, 1000);
      await jobs.enqueue('job_4', 'c', [1, 2, 3], 2000);
      const steps: Record<string, unknown> = {};
      steps.noKinds = [await jobs.claim([], 'node1', 5000), await jobs.nextDue([])];
      steps.firstDue = await jobs.nextDue(['a', 'b']);
      steps.claim1 = await jobs.claim(['b', 'a'], 'node1', 5000);
      steps.claim2 = await jobs.claim(['a', 'b'], 'node2', 5000);
      await jobs.heartbeat('job_1', 'node1', 6000);
      await jobs.heartbeat('job_2', 'someone else', 6000); // not the owner: no change
      await jobs.progress('job_1', 3, 10, 6500);
      steps.requeueWrongOwner = await jobs.requeue('job_2', 'someone else', { runAfter: 0, countAttempt: true, now: 7000 });
      steps.requeueNullOwnerOfOwned = await jobs.requeue('job_2', null, { runAfter: 0, countAttempt: true, now: 7000 });
      steps.requeueBackoff = await jobs.requeue('job_2', 'node2', { runAfter: 9000, countAttempt: true, error: 'transient', now: 7000 });
      steps.requeueQueued = await jobs.requeue('job_2', 'node2', { runAfter: 0, countAttempt: true, now: 7000 }); // no longer running
      steps.dueB = await jobs.nextDue(['b']);
      steps.dueAll = await jobs.nextDue(['a', 'b', 'c', 'none']);
      steps.notYetDue = await jobs.claim(['b'], 'node3', 8999);
      steps.dueNow = await jobs.claim(['b'], 'node3', 9000);
      steps.stoppedByShutdown = await jobs.requeue('job_2', 'node3', { runAfter: 0, countAttempt: false, now: 9100 });
      steps.afterShutdown = await jobs.find('job_2');
      // A running job without an owner: only a null owner requeues it.
      await dropOwner('job_1');
      steps.requeueOwnerless = [
        await jobs.requeue('job_1', 'node1', { runAfter: 0, countAttempt: true, now: 9200 }),
        await jobs.requeue('job_1', null, { runAfter: 0, countAttempt: true, now: 9200 }),
      ];
      steps.active = await jobs.active('a');
      steps.running = await jobs.running();
      steps.reclaim = await jobs.claim(['a'], 'node1', 9300);
      await jobs.finish('job_1', 'done', null, 9400);
      steps.claim3 = await jobs.claim(['a'], 'node1', 9500);
      await jobs.finish('job_3', 'failed', 'broken input ✗', 9600);
      steps.nothingLeft = await jobs.claim(['a'], 'node1', 9700);
      steps.nextDueNone = await jobs.nextDue(['a']);
      steps.unfinished = await jobs.unfinished();
      steps.list2 = await jobs.list(2);
      steps.listAll = await jobs.list(10);
      steps.missing = await jobs.find('nope');
      return steps;
    });
    const ids = (records: unknown) => (records as { id: string }[]).map((record) => record.id);
    assert.deepEqual(results.noKinds, [undefined, undefined]);
    assert.equal(results.firstDue, 0);
    assert.deepEqual(results.claim1, {
      id: 'job_1',
      kind: 'a',
      payload: { file: 'é 👋', n: 1 },
      state: 'running',
      attempts: 1,
      progressDone: 0,
      progressTotal: null,
      error: null,
      owner: 'node1',
      heartbeatAt: 5000,
      runAfter: 0,
      createdAt: 1000,
      updatedAt: 5000,
    });
    assert.equal((results.claim2 as { id: string }).id, 'job_2');
    assert.deepEqual([results.requeueWrongOwner, results.requeueNullOwnerOfOwned, results.requeueBackoff, results.requeueQueued], [false, false, true, false]);
    assert.equal(results.dueB, 9000);
    assert.equal(results.dueAll, 0, 'job_3 (kind a) is due since 0');
    assert.equal(results.notYetDue, undefined);
    assert.deepEqual(
      (({ id, attempts, owner, error }) => ({ id, attempts, owner, error }))(results.dueNow as { id: string; attempts: number; owner: string; error: string }),
      { id: 'job_2', attempts: 2, owner: 'node3', error: 'transient' },
    );
    assert.equal(results.stoppedByShutdown, true);
    assert.deepEqual(
      (({ state, attempts, owner, runAfter, error }) => ({ state, attempts, owner, runAfter, error }))(results.afterShutdown as { state: string; attempts: number; owner: null; runAfter: number; error: null }),
      { state: 'queued', attempts: 1, owner: null, runAfter: 0, error: null },
      'a stop by shutdown gives the attempt back',
    );
    assert.deepEqual(results.requeueOwnerless, [false, true]);
    assert.deepEqual(ids(results.active), ['job_1', 'job_3']);
    assert.deepEqual(ids(results.running), []);
    assert.deepEqual(
      (({ id, attempts, progressDone, progressTotal, heartbeatAt }) => ({ id, attempts, progressDone, progressTotal, heartbeatAt }))(
        results.reclaim as { id: string; attempts: number; progressDone: number; progressTotal: number; heartbeatAt: number },
      ),
      { id: 'job_1', attempts: 2, progressDone: 3, progressTotal: 10, heartbeatAt: 9300 },
      'progress survives a requeue',
    );
    assert.equal((results.claim3 as { id: string }).id, 'job_3');
    assert.equal(results.nothingLeft, undefined);
    assert.equal(results.nextDueNone, undefined);
    assert.deepEqual(ids(results.unfinished), ['job_2', 'job_4']);
    assert.deepEqual(ids(results.list2), ['job_4', 'job_3']);
    assert.deepEqual(ids(results.listAll), ['job_4', 'job_3', 'job_2', 'job_1']);
    const failed = (results.listAll as { id: string; state: string; error: string | null; owner: string | null }[]).find((job) => job.id === 'job_3')!;
    assert.deepEqual([failed.state, failed.error, failed.owner], ['failed', 'broken input ✗', null]);
    assert.equal(results.missing, undefined);
  });

  test('jobs on PostgreSQL: three nodes claiming at once from 20 queued jobs take each exactly once', async () => {
    const pools = [both.pool, await openPostgresPool(both.url, () => undefined, 4), await openPostgresPool(both.url, () => undefined, 4)];
    try {
      const nodes = pools.map((pool) => new PostgresJobRepository(pool));
      const ids = Array.from({ length: 20 }, (_, n) => `race_${String(n).padStart(2, '0')}`);
      for (const id of ids) await nodes[0]!.enqueue(id, 'race', { id }, 50_000);
      // Each node runs several claim loops, so that claims overlap on every pool's connections.
      const claimLoop = async (node: PostgresJobRepository, owner: string) => {
        const taken: { id: string; owner: string | null; attempts: number }[] = [];
        for (let job = await node.claim(['race'], owner, 60_000); job; job = await node.claim(['race'], owner, 60_000)) taken.push(job);
        return taken;
      };
      const taken = (await Promise.all(nodes.flatMap((node, n) => [claimLoop(node, `node${n}:a`), claimLoop(node, `node${n}:b`)]))).flat();
      assert.deepEqual(taken.map((job) => job.id).sort(), ids, 'every job claimed, none twice');
      assert.ok(taken.every((job) => job.attempts === 1));
      // What each claim returned is what the table holds: one owner per job.
      const running = new Map((await nodes[0]!.running()).map((job) => [job.id, job.owner]));
      for (const job of taken) assert.equal(running.get(job.id), job.owner);
      for (const id of ids) await nodes[0]!.finish(id, 'done', null, 70_000);
    } finally {
      await Promise.all(pools.slice(1).map((pool) => pool.end()));
    }
  });

  test('jobs on PostgreSQL: a claim inside an open transaction is skipped by the others, and undone by its rollback', async () => {
    const onPool = new PostgresJobRepository(both.pool);
    await onPool.enqueue('skip_1', 'skip', {}, 80_000);
    await onPool.enqueue('skip_2', 'skip', {}, 80_001);
    const rolledBack = new Error('roll back');
    await assert.rejects(
      inTransaction(both.pool, async (client) => {
        const inTransactionRepo = new PostgresJobRepository(client);
        assert.equal((await inTransactionRepo.claim(['skip'], 'holder', 90_000))?.id, 'skip_1');
        // skip_1 is locked by the open transaction: the pool's claim takes the next, without
        // waiting (a claim that waited on the lock would wait for ever: this transaction waits on it).
        const waited = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the claim waited on the locked row')), 5000).unref());
        assert.equal((await Promise.race([onPool.claim(['skip'], 'other', 90_000), waited]))?.id, 'skip_2');
        assert.equal(await onPool.claim(['skip'], 'other', 90_000), undefined);
        throw rolledBack;
      }),
      rolledBack,
    );
    const first = (await onPool.find('skip_1'))!;
    assert.deepEqual([first.state, first.owner, first.attempts], ['queued', null, 0]);
    assert.equal((await onPool.claim(['skip'], 'other', 90_000))?.id, 'skip_1');
  });

  test('batches: create, find, active, all, pages both ways from cursors by key, update with lines and onlyIf, statusCounts', async () => {
    const results = await onBothEngines(async ({ batches }) => {
      await batches.create(batch('batch_1'), lines(1, 3));
      await batches.create(batch('batch_2', { keyId: 'key_b', metadata: null, inputFileId: null }));
      await batches.create(batch('batch_3'));
      await batches.create(batch('msgbatch_4', { api: 'anthropic', keyId: null, status: 'in_progress', inProgressAt: 1_796_000_001, endpoint: '/v1/messages' }), lines(1, 2));
      await batches.create(batch('batch_5', { keyId: null }));
      await batches.create(batch('batch_6'));
      const steps: Record<string, unknown> = {};
      steps.startedWithLines = await batches.update('batch_3', { status: 'in_progress', inProgressAt: 1_796_000_010 }, 1_796_000_010_000, lines(1, 4), 'validating');
      steps.guardFails = await batches.update('batch_3', { status: 'failed', failedAt: 1_796_000_011 }, 1_796_000_011_000, lines(5, 6), 'validating');
      steps.linesAfterGuard = (await batches.allLines('batch_3')).map((line) => line.line);
      steps.failedValidation = await batches.update(
        'batch_2',
        { status: 'failed', failedAt: 1_796_000_012, errors: [{ code: 'invalid_json', line: 2, message: 'Bad JSON ✗', param: null }] },
        1_796_000_012_000,
      );
      steps.unguarded = await batches.update('batch_6', { status: 'cancelled', cancellingAt: 1_796_000_013, cancelledAt: 1_796_000_014, outputFileId: null }, 1_796_000_014_000);
      steps.missingUpdate = await batches.update('nope', { status: 'failed' }, 1);
      const page = async (request: Parameters<BatchStore['list']>[1], keyId: string | null, api: 'openai' | 'anthropic' = 'openai') => {
        const listed = await batches.list(api, request, keyId);
        return { ids: listed.items.map((item) => item.id), hasMore: listed.hasMore };
      };
      steps.pages = {
        allDesc: await page({ limit: 2, order: 'desc' }, null),
        afterDesc: await page({ limit: 2, order: 'desc', after: 'batch_5' }, null),
        beforeDesc: await page({ limit: 2, order: 'desc', before: 'batch_2' }, null),
        allAsc: await page({ limit: 3, order: 'asc' }, null),
        afterAsc: await page({ limit: 3, order: 'asc', after: 'batch_3' }, null),
        beforeAsc: await page({ limit: 2, order: 'asc', before: 'batch_5' }, null),
        keyA: await page({ limit: 10, order: 'asc' }, 'key_a'),
        keyAAfter: await page({ limit: 1, order: 'desc', after: 'batch_6' }, 'key_a'),
        anthropic: await page({ limit: 10, order: 'desc' }, null, 'anthropic'),
      };
      steps.found = await batches.find('batch_2');
      steps.started = await batches.find('batch_3');
      steps.missing = await batches.find('nope');
      steps.active = ((await batches.active()) as BatchRecord[]).map((record) => record.id);
      steps.all = ((await batches.all()) as BatchRecord[]).map((record) => record.id);
      steps.statusCounts = await batches.statusCounts();
      return steps;
    });
    assert.deepEqual([results.startedWithLines, results.guardFails, results.failedValidation, results.unguarded, results.missingUpdate], [true, false, true, true, false]);
    assert.deepEqual(results.linesAfterGuard, [1, 2, 3, 4], 'a guarded update that changes nothing inserts no lines');
    assert.deepEqual(results.pages, {
      allDesc: { ids: ['batch_6', 'batch_5'], hasMore: true },
      afterDesc: { ids: ['batch_3', 'batch_2'], hasMore: true },
      beforeDesc: { ids: ['batch_5', 'batch_3'], hasMore: true },
      allAsc: { ids: ['batch_1', 'batch_2', 'batch_3'], hasMore: true },
      afterAsc: { ids: ['batch_5', 'batch_6'], hasMore: false },
      beforeAsc: { ids: ['batch_2', 'batch_3'], hasMore: true },
      keyA: { ids: ['batch_1', 'batch_3', 'batch_6'], hasMore: false },
      keyAAfter: { ids: ['batch_3'], hasMore: true },
      anthropic: { ids: ['msgbatch_4'], hasMore: false },
    });
    assert.deepEqual(results.found, {
      ...batch('batch_2', { keyId: 'key_b', metadata: null, inputFileId: null }),
      status: 'failed',
      errors: [{ code: 'invalid_json', line: 2, message: 'Bad JSON ✗', param: null }],
      outputFileId: null,
      errorFileId: null,
      finalizingAt: null,
      completedAt: null,
      failedAt: 1_796_000_012,
      expiredAt: null,
      cancellingAt: null,
      cancelledAt: null,
      updatedAt: 1_796_000_012_000,
    });
    assert.equal((results.started as BatchRecord).status, 'in_progress');
    assert.equal(results.missing, undefined);
    assert.deepEqual(results.active, ['batch_1', 'batch_3', 'msgbatch_4', 'batch_5']);
    assert.deepEqual(results.all, ['batch_6', 'batch_5', 'msgbatch_4', 'batch_3', 'batch_2', 'batch_1']);
    assert.deepEqual(results.statusCounts, [
      { status: 'cancelled', n: 1 },
      { status: 'failed', n: 1 },
      { status: 'in_progress', n: 2 },
      { status: 'validating', n: 2 },
    ]);
  });

  test('batch lines: insert and delete, counts, pending pages, finishLine once, closePending sparing running lines, lines() pages, queueDepth, delete cascades', async () => {
    const results = await onBothEngines(async ({ batches }) => {
      await batches.create(batch('lines_1', { status: 'in_progress' }), lines(1, 3));
      await batches.create(batch('lines_2'));
      await batches.create(batch('lines_3', { status: 'in_progress' }), lines(1, 2));
      const steps: Record<string, unknown> = {};
      // Batches in progress from the tests before count too: measured from here.
      const depthOfOthers = (await batches.queueDepth()) - 5;
      const depth = async () => (await batches.queueDepth()) - depthOfOthers;
      // A validation a crash interrupted: its lines go, and are inserted again in chunks.
      await batches.insertLines('lines_2', lines(1, 4));
      await batches.deleteLines('lines_2');
      steps.afterDeleteLines = await batches.counts('lines_2');
      await batches.insertLines('lines_2', lines(1, 5));
      await batches.insertLines('lines_2', lines(6, 9));
      await batches.insertLines('lines_2', []);
      steps.depthBeforeStart = await depth(); // lines_2 is still validating
      await batches.update('lines_2', { status: 'in_progress' }, 1_796_000_100_000, [], 'validating');
      steps.depth = await depth();
      steps.pendingFirst = await batches.pending('lines_2', 0, 3);
      steps.finished = [
        await batches.finishLine('lines_2', 2, result(2)),
        await batches.finishLine('lines_2', 2, result(2, 'errored')), // already done: kept as it was
        await batches.finishLine('lines_2', 3, result(3, 'errored')),
        await batches.finishLine('lines_2', 99, result(99)),
      ];
      steps.pendingAfter = (await batches.pending('lines_2', 1, 3)).map((line) => line.line);
      // Lines 5 and 7 are running: they keep pending, to be finished by their workers.
      steps.closed = await batches.closePending('lines_2', 'canceled', 1_796_000_200_000, [5, 7]);
      steps.closedAgain = await batches.closePending('lines_2', 'canceled', 1_796_000_200_000, [5, 7]);
      steps.lateFinish = [await batches.finishLine('lines_2', 5, result(5)), await batches.finishLine('lines_2', 4, result(4))];
      steps.expired = await batches.closePending('lines_2', 'expired', 1_796_000_300_000);
      steps.counts = await batches.counts('lines_2');
      const iterated = [];
      for await (const line of batches.lines('lines_2', 4)) iterated.push(line);
      steps.iterated = iterated;
      steps.allLines = await batches.allLines('lines_2');
      const exactPages = [];
      for await (const line of batches.lines('lines_3', 2)) exactPages.push(line.line);
      steps.exactPages = exactPages;
      steps.emptyIteration = [];
      for await (const line of batches.lines('nope')) (steps.emptyIteration as number[]).push(line.line);
      steps.depthAfter = await depth();
      steps.deleted = [await batches.delete('lines_2'), await batches.delete('lines_2')];
      steps.afterDelete = { lines: await batches.allLines('lines_2'), counts: await batches.counts('lines_2'), batch: await batches.find('lines_2') };
      steps.depthFinal = await depth();
      return steps;
    });
    const none = { pending: 0, succeeded: 0, errored: 0, canceled: 0, expired: 0, total: 0 };
    assert.deepEqual(results.afterDeleteLines, none);
    assert.equal(results.depthBeforeStart, 5, 'lines_1 and lines_3, the batches in progress');
    assert.equal(results.depth, 14);
    assert.deepEqual(results.pendingFirst, lines(1, 3).map((line) => ({ ...line, batchId: 'lines_2', state: 'pending', statusCode: null, requestId: null, result: null, promptTokens: null, completionTokens: null })));
    assert.deepEqual(results.finished, [true, false, true, false]);
    assert.deepEqual(results.pendingAfter, [4, 5, 6]);
    assert.equal(results.closed, 5, 'lines 1, 4, 6, 8 and 9');
    assert.equal(results.closedAgain, 0);
    assert.deepEqual(results.lateFinish, [true, false]);
    assert.equal(results.expired, 1, 'line 7');
    assert.deepEqual(results.counts, { pending: 0, succeeded: 2, errored: 1, canceled: 5, expired: 1, total: 9 });
    const iterated = results.iterated as { line: number; state: string }[];
    assert.deepEqual(iterated.map((line) => line.line), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.deepEqual(iterated, results.allLines);
    assert.deepEqual(iterated[1], { ...lines(2, 2)[0], batchId: 'lines_2', state: 'succeeded', statusCode: 200, requestId: 'req_2', result: '{"n":2}', promptTokens: 2, completionTokens: 4 });
    assert.deepEqual(iterated.map((line) => line.state), ['canceled', 'succeeded', 'errored', 'canceled', 'succeeded', 'canceled', 'expired', 'canceled', 'canceled']);
    assert.deepEqual(results.exactPages, [1, 2], 'a last page exactly full ends the iteration');
    assert.deepEqual(results.emptyIteration, []);
    assert.equal(results.depthAfter, 5);
    assert.deepEqual(results.deleted, [true, false]);
    assert.deepEqual(results.afterDelete, { lines: [], counts: none, batch: undefined });
    assert.equal(results.depthFinal, 5);
  });

  test('batches on PostgreSQL: create and update join a caller transaction, and a large batch is inserted in chunks', async () => {
    const onPool = new PostgresBatchRepository(both.pool);
    const rolledBack = new Error('roll back');
    await assert.rejects(
      inTransaction(both.pool, async (client) => {
        const inTransactionRepo = new PostgresBatchRepository(client);
        await inTransactionRepo.create(batch('tx_1'), lines(1, 2));
        assert.equal(await inTransactionRepo.update('tx_1', { status: 'in_progress' }, 1, lines(3, 3), 'validating'), true);
        assert.equal((await inTransactionRepo.counts('tx_1')).total, 3);
        throw rolledBack;
      }),
      rolledBack,
    );
    assert.equal(await onPool.find('tx_1'), undefined);
    assert.deepEqual(await onPool.allLines('tx_1'), []);
    // 2,500 lines: chunks of 1,024, 1,024, 256, 128, 64 and 4.
    await onPool.create(batch('big_1'), lines(1, 2500));
    const read: number[] = [];
    for await (const line of onPool.lines('big_1')) read.push(line.line);
    assert.deepEqual(read, Array.from({ length: 2500 }, (_, n) => n + 1));
    assert.equal((await onPool.counts('big_1')).pending, 2500);
    assert.equal(await onPool.delete('big_1'), true);
  });
});
