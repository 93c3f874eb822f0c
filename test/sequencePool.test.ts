import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LlamaContext, LlamaContextSequence } from 'node-llama-cpp';
import { createRuntimeMetrics } from '../core/metrics/index.js';
import { SequencePool } from '../core/runtimes/llama/sequencePool.js';

/** A context with `size` sequences: the pool only hands them out and takes them back. */
function fakeContext(size: number): LlamaContext {
  let left = size;
  return {
    get sequencesLeft() {
      return left;
    },
    getSequence: () => {
      left--;
      return { id: size - left, contextTokens: [] } as unknown as LlamaContextSequence;
    },
  } as unknown as LlamaContext;
}

const batchLine = { caller: 'key_batch', priority: 'background' as const };
const live = { caller: 'key_live', priority: 'interactive' as const };
const pending = <T>(promise: Promise<T>) => Promise.race([promise.then(() => 'settled'), new Promise((resolve) => setImmediate(() => resolve('pending')))]);

test('background work holds at most its limit of sequences; the rest stay free for live requests', async () => {
  const pool = new SequencePool(fakeContext(4), { model: 'm', maxQueue: 64, metrics: createRuntimeMetrics() });
  assert.equal(pool.backgroundLimit, 3, "'auto' is all sequences but one");
  const held = await Promise.all([pool.acquire(batchLine, undefined), pool.acquire(batchLine, undefined), pool.acquire(batchLine, undefined)]);
  // A fourth batch line waits although a sequence is free ...
  const fourth = pool.acquire(batchLine, undefined);
  assert.equal(await pending(fourth), 'pending');
  assert.deepEqual(pool.queuedByPriority, { interactive: 0, background: 1 });
  // ... which a live request takes at once.
  const interactive = await pool.acquire(live, undefined);
  assert.equal(pool.active, 4);
  // A live request's sequence, when freed, does not go to the waiting batch line (its limit is reached) ...
  pool.release(interactive, 10);
  assert.equal(await pending(fourth), 'pending');
  assert.equal(pool.active, 3);
  // ... a batch line's does, at once.
  pool.release(held[0]!, 10);
  assert.equal(await fourth, held[0]);
  assert.equal(pool.active, 3);
});

test('a freed sequence goes to a waiting live request before a waiting batch line', async () => {
  const pool = new SequencePool(fakeContext(2), { model: 'm', maxQueue: 64, backgroundSequences: 2, metrics: createRuntimeMetrics() });
  const [a, b] = await Promise.all([pool.acquire(batchLine, undefined), pool.acquire(batchLine, undefined)]);
  const waitingLine = pool.acquire(batchLine, undefined);
  const waitingLive = pool.acquire(live, undefined);
  pool.release(a, 10);
  assert.equal(await waitingLive, a);
  assert.equal(await pending(waitingLine), 'pending');
  pool.release(b, 10);
  assert.equal(await waitingLine, b);
});

test('a numeric limit is capped at the pool size; one sequence is shared by both', async () => {
  const pool = new SequencePool(fakeContext(1), { model: 'm', maxQueue: 64, backgroundSequences: 5, metrics: createRuntimeMetrics() });
  assert.equal(pool.backgroundLimit, 1);
  const auto = new SequencePool(fakeContext(1), { model: 'm', maxQueue: 64, metrics: createRuntimeMetrics() });
  assert.equal(auto.backgroundLimit, 1, 'all but one, at least one');
  const sequence = await pool.acquire(batchLine, undefined);
  pool.release(sequence, 1);
  assert.equal(await pool.acquire(live, undefined), sequence);
});

test('a free sequence next to the generating ones is handed out, so a decode step covers consecutive ids', async () => {
  const pool = new SequencePool(fakeContext(8), { model: 'm', maxQueue: 64, metrics: createRuntimeMetrics() });
  const ids = (sequences: LlamaContextSequence[]) => sequences.map((sequence) => (sequence as unknown as { id: number }).id);
  const first = await Promise.all(Array.from({ length: 5 }, () => pool.acquire(live, undefined)));
  assert.deepEqual(ids(first), [1, 2, 3, 4, 5]);
  // All but 4 end: the free list is 6, 7, 8, 1, 2, 3, 5, least recently used first.
  for (const index of [0, 1, 2, 4]) pool.release(first[index]!, 10);
  // The least recently used would be 6, 7, 8; the ones next to 4 go first, growing one run of ids.
  const next = [];
  for (let i = 0; i < 3; i++) next.push(await pool.acquire(live, undefined));
  assert.deepEqual(ids(next), [3, 2, 1]);
  // With nothing generating, the least recently used goes first, as before.
  for (const sequence of [...next, first[3]!]) pool.release(sequence, 10);
  assert.deepEqual(ids([await pool.acquire(live, undefined)]), [6]);
});
