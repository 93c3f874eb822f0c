import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EmbeddingBatchQueue, type EmbeddingBatchOptions } from '../core/runtimes/llama/embeddingBatchQueue.js';

/** A fake evaluator: records each group and answers every input with its text doubled, after
 *  `delayMs` (standing in for the decode). */
function recorder(delayMs = 5) {
  const groups: string[][] = [];
  let running = 0;
  let overlapped = false;
  const evaluate = async (inputs: string[]) => {
    groups.push(inputs);
    running++;
    if (running > 1) overlapped = true;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    running--;
    return inputs.map((input) => input + input);
  };
  return { groups, evaluate, overlapped: () => overlapped };
}

const options = (overrides: Partial<EmbeddingBatchOptions> = {}): EmbeddingBatchOptions => ({ maxInputs: 8, maxTokens: 512, windowMs: 0, ...overrides });

describe('EmbeddingBatchQueue', () => {
  it('evaluates inputs queued together as one group, each getting its own output', async () => {
    const fake = recorder();
    const sizes: number[] = [];
    const queue = new EmbeddingBatchQueue(options(), fake.evaluate, (size) => sizes.push(size));
    const outputs = await Promise.all(['a', 'b', 'c'].map((input) => queue.submit(input, 1)));
    assert.deepEqual(outputs, ['aa', 'bb', 'cc']);
    assert.deepEqual(fake.groups, [['a', 'b', 'c']]);
    assert.deepEqual(sizes, [3]);
  });

  it('groups what arrives while the previous group runs, and runs one group at a time', async () => {
    const fake = recorder(20);
    const queue = new EmbeddingBatchQueue(options(), fake.evaluate);
    const first = queue.submit('a', 1);
    // Arrive after the first group started, one by one in later turns of the event loop.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = [];
    for (const input of ['b', 'c', 'd']) {
      later.push(queue.submit(input, 1));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await Promise.all([first, ...later]), ['aa', 'bb', 'cc', 'dd']);
    assert.deepEqual(fake.groups, [['a'], ['b', 'c', 'd']]);
    assert.equal(fake.overlapped(), false);
  });

  it('caps a group at maxInputs, in arrival order', async () => {
    const fake = recorder();
    const queue = new EmbeddingBatchQueue(options({ maxInputs: 2 }), fake.evaluate);
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((input) => queue.submit(input, 1)));
    assert.deepEqual(fake.groups, [['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('caps a group at maxTokens, and lets an input longer than that go alone', async () => {
    const fake = recorder();
    const queue = new EmbeddingBatchQueue(options({ maxTokens: 10 }), fake.evaluate);
    const inputs: [string, number][] = [['a', 4], ['b', 5], ['c', 3], ['long', 30], ['d', 2]];
    await Promise.all(inputs.map(([input, tokens]) => queue.submit(input, tokens)));
    assert.deepEqual(fake.groups, [['a', 'b'], ['c'], ['long'], ['d']]);
  });

  it('with a window, the first input waits for later ones to join its group', async () => {
    const fake = recorder();
    const queue = new EmbeddingBatchQueue(options({ windowMs: 60 }), fake.evaluate);
    const first = queue.submit('a', 1);
    await new Promise((resolve) => setTimeout(resolve, 15));
    const second = queue.submit('b', 1);
    assert.deepEqual(await Promise.all([first, second]), ['aa', 'bb']);
    assert.deepEqual(fake.groups, [['a', 'b']]);
  });

  it('without a window, an input that arrives in a later turn starts its own group', async () => {
    const fake = recorder(30);
    const queue = new EmbeddingBatchQueue(options(), fake.evaluate);
    const first = queue.submit('a', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = queue.submit('b', 1);
    await Promise.all([first, second]);
    assert.deepEqual(fake.groups, [['a'], ['b']]);
  });

  it('a failed group fails its own inputs only; the next group still runs', async () => {
    let calls = 0;
    const queue = new EmbeddingBatchQueue<string, string>(options({ maxInputs: 2 }), async (inputs) => {
      calls++;
      if (calls === 1) throw new Error('decode failed');
      return inputs.map((input) => input.toUpperCase());
    });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((input) => queue.submit(input, 1)));
    assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected', 'fulfilled']);
    assert.equal((results[0] as PromiseRejectedResult).reason.message, 'decode failed');
    assert.equal((results[2] as PromiseFulfilledResult<string>).value, 'C');
  });

  it('an input whose request is abandoned while it waits leaves the queue', async () => {
    const fake = recorder(30);
    const queue = new EmbeddingBatchQueue(options(), fake.evaluate);
    const first = queue.submit('a', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const abandoned = new AbortController();
    const gone = queue.submit('b', 1, abandoned.signal);
    const kept = queue.submit('c', 1);
    abandoned.abort(new Error('client went away'));
    await assert.rejects(gone, /client went away/);
    assert.deepEqual(await Promise.all([first, kept]), ['aa', 'cc']);
    assert.deepEqual(fake.groups, [['a'], ['c']]);
    await assert.rejects(queue.submit('d', 1, abandoned.signal), /client went away/);
  });

  it('close fails the waiting inputs and refuses new ones; the running group finishes', async () => {
    const fake = recorder(30);
    const queue = new EmbeddingBatchQueue(options(), fake.evaluate);
    const running = queue.submit('a', 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const waiting = queue.submit('b', 1);
    queue.close(new Error('model unloaded'));
    await assert.rejects(waiting, /model unloaded/);
    await assert.rejects(queue.submit('c', 1), /model unloaded/);
    assert.equal(await running, 'aa');
    assert.equal(queue.queued, 0);
  });

  it('an evaluator that answers the wrong number of outputs fails the group', async () => {
    const queue = new EmbeddingBatchQueue<string, string>(options(), async () => ['only one']);
    const results = await Promise.allSettled([queue.submit('a', 1), queue.submit('b', 1)]);
    assert.ok(results.every((result) => result.status === 'rejected' && /gave 1 outputs/.test(String(result.reason))));
  });
});
