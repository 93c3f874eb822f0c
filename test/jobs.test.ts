// The durable job queue (core/jobs) on a real SQLite file: claiming, retries, recovery of jobs left
// running by a dead process, and a graceful stop that re-queues without counting an attempt.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import { after, before, test } from 'node:test';
import { JobRunner, PermanentJobError, type JobHandler } from '../core/jobs/index.js';
import { SqliteStore } from '../core/store/index.js';
import { tempDir } from './support/server.js';
import { waitFor } from './support/wait.js';

let dir: string;
let store: Store;
before(() => {
  dir = tempDir();
  store = SqliteStore.open(dir);
});
after(() => {
  store.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

const fast = { pollMs: 10, heartbeatMs: 10 };

test('a job left running by a dead process is resumed; progress is kept on the job', async () => {
  await store.jobs.enqueue('job_dead', 'work', { n: 1 }, Date.now());
  // A pid that is not running on this host held it.
  await store.jobs.claim(['work'], `${os.hostname()}:999999999:abc`, Date.now());
  const runs: number[] = [];
  const runner = new JobRunner({ store, handlers: [{ kind: 'work', run: async ({ job, progress }) => (runs.push(job.attempts), await progress(3, 3)) }], ...fast });
  runner.start();
  assert.ok(await waitFor(async () => (await store.jobs.find('job_dead'))!.state === 'done'));
  await runner.stop();
  assert.deepEqual(runs, [2]);
  const job = (await store.jobs.find('job_dead'))!;
  assert.equal(job.progressDone, 3);
  assert.equal(job.progressTotal, 3);
});

test('errors are retried, a permanent one fails at once and is reported to the handler', async () => {
  const failures: string[] = [];
  let calls = 0;
  const handler: JobHandler = {
    kind: 'flaky',
    run: async ({ job }) => {
      calls++;
      if ((job.payload as { permanent: boolean }).permanent) throw new PermanentJobError('broken input');
      if (job.attempts < 2) throw new Error('transient');
    },
    failed: (job, message) => {
      failures.push(`${job.id}: ${message}`);
    },
  };
  await store.jobs.enqueue('job_flaky', 'flaky', { permanent: false }, Date.now());
  await store.jobs.enqueue('job_broken', 'flaky', { permanent: true }, Date.now());
  const runner = new JobRunner({ store, handlers: [handler], ...fast });
  runner.start();
  assert.ok(await waitFor(async () => (await store.jobs.find('job_flaky'))!.state === 'done' && (await store.jobs.find('job_broken'))!.state === 'failed'));
  await runner.stop();
  assert.equal((await store.jobs.find('job_flaky'))!.attempts, 2);
  assert.deepEqual(failures, ['job_broken: broken input']);
  assert.equal(calls, 3);
});

test('stopping the runner puts the running job back in the queue without counting the attempt', async () => {
  await store.jobs.enqueue('job_long', 'long', {}, Date.now());
  let started = false;
  const runner = new JobRunner({
    store,
    handlers: [{ kind: 'long', run: ({ signal }) => ((started = true), new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))) }],
    ...fast,
  });
  runner.start();
  assert.ok(await waitFor(() => started));
  await runner.stop();
  const job = (await store.jobs.find('job_long'))!;
  assert.equal(job.state, 'queued');
  assert.equal(job.attempts, 0);
});
