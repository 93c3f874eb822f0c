import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlamaCompletion, type Token } from 'node-llama-cpp';
import { installYieldingBatchDispatch, yieldBetweenBatches } from '../core/runtimes/llama/yieldingBatchDispatch.js';
import { useTinyModel } from './support/tinyModel.js';

// The yielding batch dispatch (core/runtimes/llama/yieldingBatchDispatch.ts) replaces a loop inside
// node-llama-cpp: these check it against the original on the tiny model, without a server.

const tiny = useTinyModel();

test('the patch applies to the pinned node-llama-cpp', async () => {
  assert.deepEqual(await installYieldingBatchDispatch(), { applied: true });
});

test('an input longer than a batch is evaluated over several batches exactly as node-llama-cpp does', async () => {
  // 40 tokens in batches of 16, each asking for its next token: the logits of the first two
  // batches must be kept until the decode's last batch, across separate holds of the lock.
  const input: Token[] = tiny.model.tokenize('the quick brown fox jumps over the lazy dog, '.repeat(6)).slice(0, 40);
  assert.equal(input.length, 40);
  const evaluate = async (patched: boolean) => {
    const context = await tiny.model.createContext({ contextSize: 256, batchSize: 16, sequences: 1, threads: 1 });
    try {
      if (patched) assert.deepEqual(await yieldBetweenBatches(context), { applied: true });
      const results = await context.getSequence().controlledEvaluate(input.map((token) => [token, { generateNext: { token: true, confidence: true } }]));
      return results.map((result) => [result?.next.token, result?.next.confidence?.toFixed(5)]);
    } finally {
      await context.dispose();
    }
  };
  const original = await evaluate(false);
  assert.equal(original.filter(([token]) => token != null).length, 40);
  assert.deepEqual(await evaluate(true), original);
});

test('a reused sequence joins running generations at the next decode step, and all of them finish', async () => {
  const running = 3;
  const context = await tiny.model.createContext({ contextSize: 1024, sequences: running + 1, threads: 1 });
  try {
    assert.deepEqual(await yieldBetweenBatches(context), { applied: true });
    const [reused, ...others] = Array.from({ length: running + 1 }, () => context.getSequence());
    const complete = (sequence: typeof reused, prompt: string, maxTokens: number, onToken?: () => void) =>
      new LlamaCompletion({ contextSequence: sequence!, autoDisposeSequence: false }).generateCompletionWithMeta(prompt, { maxTokens, temperature: 0, onToken });
    // The sequence holds an earlier prompt: the newcomer's evaluation starts with an erase, which
    // takes the context's lock.
    await complete(reused, 'an earlier request on this sequence', 8);
    let runningTokens = 0;
    const long = others.map((sequence, i) => complete(sequence, `long generation ${i}`, 400, () => runningTokens++));
    while (runningTokens < running * 5) await new Promise((resolve) => setTimeout(resolve, 5));
    let runningTokensAtNewcomersFirst: number | undefined;
    const newcomer = await complete(reused, 'a newcomer with another question', 4, () => (runningTokensAtNewcomersFirst ??= runningTokens));
    const results = await Promise.all(long);
    assert.equal(newcomer.metadata.stopReason, 'maxTokens');
    assert.ok(results.every((result) => result.metadata.stopReason === 'maxTokens'));
    assert.ok(runningTokensAtNewcomersFirst !== undefined);
    // Before the fix it came after all 1,200 of theirs.
    assert.ok(runningTokensAtNewcomersFirst < (running * 400) / 2, `the running generations had made ${runningTokensAtNewcomersFirst} tokens before the newcomer's first`);
  } finally {
    await context.dispose();
  }
});

test('every generating sequence joins each decode step: tokens per step equal the streams', async () => {
  const streams = 8;
  const maxTokens = 24;
  const context = await tiny.model.createContext({ contextSize: 1024, sequences: streams, threads: 1 });
  try {
    assert.deepEqual(await yieldBetweenBatches(context), { applied: true });
    // Count the tokens of each llama_decode on the context's native handle (node-llama-cpp 3.21.1: initBatch(n), then decodeBatch()).
    const internal = context as unknown as { _ctx: { initBatch(tokens: number): void; decodeBatch(): Promise<void> } };
    const native = internal._ctx;
    const stepTokens: number[] = [];
    internal._ctx = new Proxy(native, {
      get(target, property) {
        if (property === 'initBatch') return (tokens: number) => (stepTokens.push(tokens), target.initBatch(tokens));
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const results = await Promise.all(
      Array.from({ length: streams }, (_, i) =>
        new LlamaCompletion({ contextSequence: context.getSequence(), autoDisposeSequence: false }).generateCompletionWithMeta(`stream ${i} tells a story about a cat`, {
          maxTokens,
          temperature: 0,
        }),
      ),
    );
    assert.ok(results.every((result) => result.metadata.stopReason === 'maxTokens'));
    // The first step evaluates the eight prompts; each later one decodes one token of every stream.
    const [promptStep, ...generationSteps] = stepTokens;
    assert.ok(promptStep! > streams);
    assert.deepEqual(generationSteps, Array(maxTokens - 1).fill(streams), `tokens per decode step: ${stepTokens.join(' ')}`);
  } finally {
    await context.dispose();
  }
});

test("a lone stream's next token is decoded in the event-loop turn it is queued in, not one round later", async () => {
  const context = await tiny.model.createContext({ contextSize: 1024, sequences: 4, threads: 1 });
  try {
    assert.deepEqual(await yieldBetweenBatches(context), { applied: true });
    // A counter of event-loop rounds (one setImmediate per round) ...
    let round = 0;
    let ticking = true;
    const tick = () => ticking && (round++, setImmediate(tick));
    setImmediate(tick);
    // ... read when a token is queued for decoding and when its llama_decode starts (node-llama-cpp 3.21.1 internals).
    const internal = context as unknown as { _decodeTokens(...args: unknown[]): Promise<unknown>; _ctx: { decodeBatch(): Promise<void> } };
    const queuedAt: number[] = [];
    const decodedAt: number[] = [];
    const decodeTokens = internal._decodeTokens.bind(context);
    internal._decodeTokens = (...args) => (queuedAt.push(round), decodeTokens(...args));
    const native = internal._ctx;
    internal._ctx = new Proxy(native, {
      get(target, property) {
        if (property === 'decodeBatch') return () => (decodedAt.push(round), target.decodeBatch());
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const result = await new LlamaCompletion({ contextSequence: context.getSequence(), autoDisposeSequence: false }).generateCompletionWithMeta('a lone stream tells a story', {
      maxTokens: 16,
      temperature: 0,
    });
    ticking = false;
    assert.equal(result.metadata.stopReason, 'maxTokens');
    assert.equal(decodedAt.length, 16, 'the prompt, then one step per token but the last');
    // The prompt's step may wait for the next round (other sequences could join it); every later one may not.
    assert.deepEqual(decodedAt.slice(1), queuedAt.slice(1), `rounds queued: ${queuedAt.join(' ')}; rounds decoded: ${decodedAt.join(' ')}`);
  } finally {
    await context.dispose();
  }
});
