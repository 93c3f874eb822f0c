import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LlamaContext } from 'node-llama-cpp';
import OpenAI from 'openai';
import { LlamaRuntime } from '../core/runtimes/index.js';
import { skipUnlessFastAddon, testFastAddonDir } from './support/fastAddon.js';
import { embeddingTokensOf, MultiSequenceEmbedding, sameLengthRuns } from '../core/runtimes/llama/multiSequenceEmbedding.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, tinyModelPath, type TestServer } from './support/server.js';

// GGUF embedding micro-batching (#17): concurrent /v1/embeddings requests to one model are evaluated
// in groups; every vector must be the one the input gets alone. Groups share one decode only on
// llmsvc's fast addon (getSequenceEmbedding); without it they are embedded one input at a time.


const texts = [
  'The blue heron nests by the quiet lake.',
  'Short.',
  'A somewhat longer sentence about trains, timetables and the weather in late autumn.',
  'Numbers: 1 2 3 4 5 6 7 8 9 10',
  'Embeddings of several inputs decoded together must not leak into each other.',
  'x',
  'Der schnelle braune Fuchs springt über den faulen Hund.',
  'One more input, so that a group of eight fills and a ninth starts the next one.',
  'Ninth text.',
  'Tenth and last text in the list, of middling length.',
];

/** Every observation of the group-size histogram for the tiny model: the count, and how many were groups of one. */
async function groupSizes(server: TestServer): Promise<{ count: number; alone: number }> {
  const text = await (await authedFetch(`${server.url}/metrics`)).text();
  const value = (pattern: RegExp) => Number(text.split('\n').find((line) => pattern.test(line))?.split(' ').at(-1) ?? Number.NaN);
  const model = `model="${tinyModelId}"`;
  return {
    count: value(new RegExp(`^llmsvc_embedding_batch_inputs_count\\{${model}\\}`)),
    alone: value(new RegExp(`^llmsvc_embedding_batch_inputs_bucket\\{le="1",${model}\\}`)),
  };
}

/** Largest difference between two lists of vectors of the same shape. */
function maxDifference(a: number[][], b: number[][]): number {
  assert.equal(a.length, b.length);
  let max = 0;
  a.forEach((vector, i) => {
    assert.equal(vector.length, b[i]!.length);
    vector.forEach((value, j) => (max = Math.max(max, Math.abs(value - b[i]![j]!))));
  });
  return max;
}

describe('GGUF embedding micro-batching', () => {
  let batched: TestServer;
  let unbatched: TestServer;
  let onBatched: OpenAI;
  let onUnbatched: OpenAI;
  const embedOne = async (client: OpenAI, input: string) => (await client.embeddings.create({ model: tinyModelId, input, encoding_format: 'float' })).data[0]!.embedding;
  const sequentially = async (client: OpenAI) => {
    const vectors: number[][] = [];
    for (const input of texts) vectors.push(await embedOne(client, input));
    return vectors;
  };
  const concurrently = (client: OpenAI) => Promise.all(texts.map((input) => embedOne(client, input)));

  before(async () => {
    // A window, so that requests sent together group reliably even on a loaded machine.
    // CPU: the fast addon (when built) is used only without a GPU.
    [batched, unbatched] = await Promise.all([
      startTestServer({ gpu: false, embedding_batch_window_ms: 40, fast_addon_dir: testFastAddonDir }),
      startTestServer({ gpu: false, embedding_batch: false }),
    ]);
    onBatched = new OpenAI({ baseURL: `${batched.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    onUnbatched = new OpenAI({ baseURL: `${unbatched.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  });
  after(async () => {
    await Promise.all([batched?.stop(), unbatched?.stop()]);
  });

  it('concurrent requests are evaluated in groups and get the vectors each input gets alone', async () => {
    const alone = await sequentially(onBatched);
    const before = await groupSizes(batched);
    assert.equal(before.count, texts.length, 'one group per sequential request');
    assert.equal(before.alone, texts.length, 'each of them alone');
    const together = await concurrently(onBatched);
    assert.ok(maxDifference(together, alone) <= 1e-6, `concurrent vectors differ from sequential ones by ${maxDifference(together, alone)}`);
    const after = await groupSizes(batched);
    assert.ok(after.count - before.count < texts.length, `${texts.length} concurrent requests were evaluated in ${after.count - before.count} groups: some together`);
  });

  it('the inputs of one request are evaluated together, in order', async () => {
    const alone = await sequentially(onBatched);
    const before = await groupSizes(batched);
    const response = await onBatched.embeddings.create({ model: tinyModelId, input: texts, encoding_format: 'float' });
    assert.deepEqual(response.data.map((item) => item.index), texts.map((_, i) => i));
    assert.ok(maxDifference(response.data.map((item) => item.embedding), alone) <= 1e-6);
    const after = await groupSizes(batched);
    // Ten inputs at most eight at a time: two groups, neither of one.
    assert.equal(after.count - before.count, 2);
    assert.equal(after.alone, before.alone);
  });

  it('with batching off, every input is evaluated alone and the vectors are the same as with it on', async () => {
    const reference = await sequentially(onBatched);
    const together = await concurrently(onUnbatched);
    const one = await onUnbatched.embeddings.create({ model: tinyModelId, input: texts, encoding_format: 'float' });
    assert.deepEqual(together, await sequentially(onUnbatched), 'batching off: concurrent and sequential vectors are bitwise the same');
    assert.ok(maxDifference(together, reference) <= 1e-6);
    assert.ok(maxDifference(one.data.map((item) => item.embedding), reference) <= 1e-6);
    const sizes = await groupSizes(unbatched);
    assert.equal(sizes.count, 3 * texts.length);
    assert.equal(sizes.alone, sizes.count, 'no group of more than one input');
  });

  it('on the fast addon, the server decodes its groups together (and says so once)', { skip: skipUnlessFastAddon }, async () => {
    await embedOne(onBatched, 'warm');
    await new Promise((resolve) => setTimeout(resolve, 100)); // the runtime thread's log lines cross a channel
    assert.equal(batched.logs().split('embedding groups decode together').length - 1, 1, batched.logs());
    assert.doesNotMatch(batched.logs(), /one input at a time/);
    assert.doesNotMatch(unbatched.logs(), /embedding groups/, 'batching off: nothing to say');
  });
});

describe('multi-sequence embedding on the fast addon', { skip: skipUnlessFastAddon }, () => {
  it('a group of eight inputs of one length is one decode; inputs of other lengths are evaluated whole; every vector is bitwise the one its input gets alone', async () => {
    const runtime = new LlamaRuntime({ gpu: false, fastAddonDir: testFastAddonDir });
    const model = await (await runtime.llama()).loadModel({ modelPath: tinyModelPath });
    const evaluator = new MultiSequenceEmbedding(model, { contextSize: 1024, threads: 1, maxInputs: 8, maxTokens: 512 });
    try {
      // Eight inputs of one length (a document chunked by tokens), and two of other lengths.
      const inputs = texts.slice(0, 8).map((text) => embeddingTokensOf(model, text.repeat(3)).slice(0, 12));
      const others = [embeddingTokensOf(model, texts[8]!), embeddingTokensOf(model, texts[9]!)];
      assert.notEqual(others[0]!.length, others[1]!.length);
      assert.ok(others.every((tokens) => tokens.length !== 12));
      const alone: number[][] = [];
      for (const tokens of inputs) alone.push(...(await evaluator.embedGroup([tokens])));
      assert.equal(await evaluator.ready, true, 'the fast addon reads embeddings per sequence');
      await evaluator.embedGroup(inputs.slice(0, 2)); // makes the batching context
      // Count the native decodes of the batching context (node-llama-cpp's _ctx, an AddonContext).
      const { context } = await (evaluator as unknown as { multi: Promise<{ context: LlamaContext }> }).multi;
      const internals = context as unknown as { _ctx: Record<string | symbol, unknown> };
      const native = internals._ctx;
      let decodes = 0;
      internals._ctx = new Proxy(native, {
        get(target, key) {
          const value = target[key];
          if (typeof value !== 'function') return value;
          if (key === 'decodeBatch') decodes++;
          return value.bind(target);
        },
      });
      const together = await evaluator.embedGroup(inputs);
      const reversed = await evaluator.embedGroup(inputs.slice().reverse());
      internals._ctx = native;
      assert.equal(decodes, 2, 'one decode per group');
      assert.deepEqual(together, alone);
      assert.deepEqual(reversed.reverse(), alone, 'which sequence an input gets does not matter');
      // Mixed lengths: llama.cpp would split a batch of unequal sequences into equal pieces, and an
      // input evaluated in pieces gets another vector; so only the equal ones share the decode.
      const othersAlone: number[][] = [];
      for (const tokens of others) othersAlone.push(...(await evaluator.embedGroup([tokens])));
      const mixed = await evaluator.embedGroup([others[0]!, ...inputs.slice(0, 3), others[1]!]);
      assert.deepEqual(mixed, [othersAlone[0], ...alone.slice(0, 3), othersAlone[1]]);
    } finally {
      await evaluator.dispose();
      await model.dispose();
      await runtime.dispose();
    }
  });
});

it('sameLengthRuns: a group splits into its inputs of each token count, indexes in order', () => {
  const tokens = (n: number) => Array.from({ length: n }, () => 1 as never);
  assert.deepEqual(sameLengthRuns([tokens(3), tokens(5), tokens(3), tokens(1), tokens(5), tokens(3)]), [[0, 2, 5], [1, 4], [3]]);
  assert.deepEqual(sameLengthRuns([]), []);
});
