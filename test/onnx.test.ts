// ONNX sentence-embedding models: the synthetic model generator, the runtime's pure parts
// (batcher, encoder, pooling), and the provider end to end on a generated tiny model.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ApiError } from '../core/errors/index.js';
import { OnnxEmbeddingProvider } from '../core/providers/onnx/index.js';
import { InputEncoder } from '../core/runtimes/onnx/inputEncoder.js';
import { MicroBatcher } from '../core/runtimes/onnx/microBatcher.js';
import { readEmbeddingModelDirectory } from '../core/runtimes/onnx/modelDirectory.js';
import { padBatch } from '../core/runtimes/onnx/paddedBatch.js';
import { poolEmbeddings } from '../core/runtimes/onnx/pooling.js';
import { synthesizeOnnxEmbeddingModel } from '../models/onnx/index.js';
import { decodeOnnxModel } from '../models/onnx/onnxProto.js';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'llmsvc-onnx-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function filesUnder(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) files.set(relative(dir, join(entry.parentPath, entry.name)), await readFile(join(entry.parentPath, entry.name)));
  }
  return files;
}

const norm = (vector: number[]) => Math.sqrt(vector.reduce((sum, x) => sum + x * x, 0));
const maxDifference = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

function assertApiError(code: string, pattern: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  };
}

describe('ONNX embedding model generator', () => {
  test('writes a complete sentence-transformers directory', async () => {
    const dir = join(scratch, 'gen', 'complete');
    const result = await synthesizeOnnxEmbeddingModel(dir, { preset: 'tiny' });
    assert.equal(result.dim, 32);
    const files = [...(await filesUnder(dir)).keys()].sort();
    assert.deepEqual(files, ['1_Pooling/config.json', 'config.json', 'model.onnx', 'modules.json', 'sentence_bert_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    assert.deepEqual(await readdir(join(scratch, 'gen')), ['complete'], 'no staging directory is left behind');

    const spec = readEmbeddingModelDirectory(dir);
    assert.deepEqual([spec.dimension, spec.maxLength, spec.pooling, spec.normalize], [32, 64, 'mean', true]);
    const model = decodeOnnxModel(await readFile(join(dir, 'model.onnx'))) as { opset_import: { version: number }[]; graph: { input: { name: string }[]; output: { name: string }[] } };
    assert.equal(model.opset_import[0]!.version, 17);
    assert.deepEqual(model.graph.input.map((input) => input.name), ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.deepEqual(model.graph.output.map((output) => output.name), ['last_hidden_state']);
  });

  test('the same seed gives the same bytes; another seed other weights', async () => {
    const [a, b, c] = await Promise.all(
      [7, 7, 8].map((seed, i) => synthesizeOnnxEmbeddingModel(join(scratch, 'seeds', String(i)), { preset: 'tiny', seed }).then((r) => filesUnder(r.dir))),
    );
    assert.deepEqual([...a!.keys()], [...b!.keys()]);
    for (const [name, bytes] of a!) assert.ok(bytes.equals(b!.get(name)!), `${name} differs between two runs with the same seed`);
    assert.ok(!a!.get('model.onnx')!.equals(c!.get('model.onnx')!));
    assert.ok(a!.get('tokenizer.json')!.equals(c!.get('tokenizer.json')!), 'the vocabulary does not depend on the seed');
  });

  test('the default is 384 dimensions; an existing directory is kept unless overwrite is set', async () => {
    const dir = join(scratch, 'gen', 'default');
    const result = await synthesizeOnnxEmbeddingModel(dir);
    assert.equal(result.dim, 384);
    await assert.rejects(synthesizeOnnxEmbeddingModel(dir, { preset: 'tiny' }), /already exists/);
    const replaced = await synthesizeOnnxEmbeddingModel(dir, { preset: 'tiny', overwrite: true });
    assert.equal(readEmbeddingModelDirectory(replaced.dir).dimension, 32);
  });
});

describe('micro-batcher', () => {
  test('merges items submitted together, caps the batch size, and queues items that arrive during a run', async () => {
    const batches: number[][] = [];
    let releaseFirst!: () => void;
    const firstRunning = new Promise<void>((resolve) => (releaseFirst = resolve));
    const batcher = new MicroBatcher<number, number>(
      async (items) => {
        batches.push(items);
        if (batches.length === 1) await firstRunning;
        return items.map((x) => x * 10);
      },
      { windowMs: 5, maxBatchSize: 3 },
    );
    const first = [1, 2].map((x) => batcher.submit(x));
    await new Promise((resolve) => setTimeout(resolve, 20)); // the first batch is running now
    const later = [3, 4, 5, 6].map((x) => batcher.submit(x));
    releaseFirst();
    assert.deepEqual(await Promise.all([...first, ...later]), [10, 20, 30, 40, 50, 60]);
    assert.deepEqual(batches, [[1, 2], [3, 4, 5], [6]]);
  });

  test('a failed batch fails its items; close fails the waiting ones', async () => {
    const batcher = new MicroBatcher<number, number>(async () => Promise.reject(new Error('boom')), { windowMs: 1, maxBatchSize: 8 });
    await assert.rejects(batcher.submit(1), /boom/);
    const waiting = batcher.submit(2);
    await batcher.close(new Error('closed'));
    await assert.rejects(waiting, /closed/);
    await assert.rejects(batcher.submit(3), /closed/);
  });
});

describe('input encoding, padding and pooling', () => {
  let encoder: InputEncoder;
  let cls: number;
  let sep: number;
  before(async () => {
    const spec = readEmbeddingModelDirectory((await synthesizeOnnxEmbeddingModel(join(scratch, 'encoder'), { preset: 'tiny', maxLength: 8 })).dir);
    encoder = new InputEncoder(spec.tokenizer, spec.tokenizerConfig, spec.maxLength, spec.vocabSize);
    const vocab = (spec.tokenizer as { model: { vocab: Record<string, number> } }).model.vocab;
    [cls, sep] = [vocab['[CLS]']!, vocab['[SEP]']!];
  });

  test('text gets [CLS] … [SEP]; a long text is cut to the maximum length and keeps both', () => {
    assert.equal(encoder.encode('Hello, world!').ids.length, 6); // [CLS] hello , world ! [SEP]
    const long = encoder.encode('the cat and the dog went to the city for food and music');
    assert.equal(long.ids.length, 8);
    assert.equal(long.ids[0], cls);
    assert.equal(long.ids.at(-1), sep);
    assert.deepEqual(long.ids.slice(0, 7), encoder.encode('the cat and the dog went').ids.slice(0, 7));
  });

  test('token ids are taken as given, truncated, and checked against the vocabulary', () => {
    assert.deepEqual(encoder.encode([5, 6, 7]).ids, [5, 6, 7]);
    assert.equal(encoder.encode(new Array(20).fill(5)).ids.length, 8);
    assert.throws(() => encoder.encode([5, 100_000], 2), assertApiError('LLMSVC_ERR_INVALID_PARAM', /input\[2\].*100000/));
    assert.throws(() => encoder.encode([]), assertApiError('LLMSVC_ERR_INVALID_PARAM', /empty/));
  });

  test('padding masks the tail; mean pooling ignores masked tokens; CLS takes the first', () => {
    const batch = padBatch([{ ids: [1, 2, 3], typeIds: [0, 0, 0] }, { ids: [4], typeIds: [0] }]);
    assert.deepEqual([...batch.attentionMask], [1n, 1n, 1n, 1n, 0n, 0n]);
    assert.deepEqual([...batch.inputIds], [1n, 2n, 3n, 4n, 0n, 0n]);
    // hidden [2, 3, 2]: row 1's padded positions hold garbage that must not count.
    const hidden = { data: Float32Array.from([1, 2, 3, 4, 5, 6, 3, 4, 99, 99, 99, 99]), batchSize: 2, sequenceLength: 3, dimension: 2 };
    assert.deepEqual(poolEmbeddings(hidden, batch.attentionMask, 'mean', false), [[3, 4], [3, 4]]);
    assert.deepEqual(poolEmbeddings(hidden, batch.attentionMask, 'cls', false), [[1, 2], [3, 4]]);
    assert.deepEqual(poolEmbeddings(hidden, batch.attentionMask, 'max', false), [[5, 6], [3, 4]]);
    assert.deepEqual(poolEmbeddings(hidden, batch.attentionMask, 'mean', true), [[0.6, 0.8], [0.6, 0.8]]);
  });
});

describe('OnnxEmbeddingProvider', () => {
  let modelsDir: string;
  let provider: OnnxEmbeddingProvider;
  const texts = ['hello world', 'The quick brown fox jumps over the lazy dog, again and again.', 'a', 'vector search for documents', 'Unbelievable!', 'what time is it'];

  before(async () => {
    modelsDir = join(scratch, 'models');
    await synthesizeOnnxEmbeddingModel(join(modelsDir, 'tiny-embed'), { preset: 'tiny', seed: 1 });
    await synthesizeOnnxEmbeddingModel(join(modelsDir, 'tiny-cls'), { preset: 'tiny', seed: 2, pooling: 'cls', normalize: false });
    await synthesizeOnnxEmbeddingModel(join(modelsDir, 'broken'), { preset: 'tiny' });
    await rm(join(modelsDir, 'broken', 'tokenizer.json'));
    await mkdir(join(modelsDir, 'not-a-model'));
    await writeFile(join(modelsDir, 'stray.onnx'), 'not a directory');
    provider = new OnnxEmbeddingProvider({ modelsDir, runtime: { batchWindowMs: 10 } });
  });
  after(() => provider.dispose());

  test('lists every subdirectory that holds a model.onnx', () => {
    assert.deepEqual(provider.listModels().map((model) => model.id), ['broken', 'tiny-cls', 'tiny-embed']);
    assert.deepEqual(new OnnxEmbeddingProvider({ modelsDir: join(scratch, 'no-such-dir') }).listModels(), []);
  });

  test('embeddings have the model dimension and unit length; equal texts agree, different ones differ', async () => {
    const { vectors, promptTokens } = await provider.embed({ model: 'tiny-embed', inputs: ['hello world', 'hello world', 'the cat'] });
    assert.equal(vectors.length, 3);
    for (const vector of vectors) {
      assert.equal(vector.length, 32);
      assert.ok(Math.abs(norm(vector) - 1) < 1e-6);
    }
    assert.deepEqual(vectors[0], vectors[1]);
    assert.ok(maxDifference(vectors[0]!, vectors[2]!) > 1e-3);
    assert.equal(promptTokens, 12); // [CLS] hello world [SEP] twice, [CLS] the cat [SEP]
  });

  test('token counts: punctuation, word pieces, truncation, token ids', async () => {
    const count = async (input: string | number[]) => (await provider.embed({ model: 'tiny-embed', inputs: [input] })).promptTokens;
    assert.equal(await count('Hello, world!'), 6);
    assert.equal(await count('things'), 4); // [CLS] thing ##s [SEP]
    assert.equal(await count('word '.repeat(200)), 64); // the model's max length
    assert.equal(await count([10, 11, 12]), 3);
  });

  test('concurrent requests share padded batches and get the same vectors as alone', async () => {
    const alone: number[][] = [];
    for (const text of texts) alone.push((await provider.embed({ model: 'tiny-embed', inputs: [text] })).vectors[0]!);
    const before = (await provider.stats())['tiny-embed']!;
    const together = await Promise.all(texts.map((text) => provider.embed({ model: 'tiny-embed', inputs: [text] })));
    const after = (await provider.stats())['tiny-embed']!;

    together.forEach((result, i) => assert.ok(maxDifference(result.vectors[0]!, alone[i]!) < 1e-5, `text ${i} differs when batched`));
    assert.equal(after.sequences - before.sequences, texts.length);
    assert.ok(after.batches - before.batches < texts.length, `${after.batches - before.batches} runs for ${texts.length} concurrent requests`);
    assert.ok(after.largestBatch > 1);
  });

  test('follows the pooling config: CLS pooling without normalisation', async () => {
    const { vectors } = await provider.embed({ model: 'tiny-cls', inputs: ['hello world', 'the cat'] });
    assert.equal(vectors[0]!.length, 32);
    assert.ok(Math.abs(norm(vectors[0]!) - 1) > 1e-3, 'not normalised');
  });

  test('errors: unknown model, missing file, bad token ids, chat on an embedding model', async () => {
    await assert.rejects(provider.embed({ model: 'nope', inputs: ['x'] }), assertApiError('LLMSVC_ERR_MODEL_NOT_FOUND', /'nope' does not exist/));
    await assert.rejects(provider.embed({ model: 'not-a-model', inputs: ['x'] }), assertApiError('LLMSVC_ERR_MODEL_NOT_FOUND', /not-a-model/));
    await assert.rejects(provider.embed({ model: 'broken', inputs: ['x'] }), assertApiError('LLMSVC_ERR_MODEL_LOAD_FAILED', /'broken'.*tokenizer\.json is missing/));
    await assert.rejects(provider.embed({ model: 'tiny-embed', inputs: ['ok', [1_000_000]] }), assertApiError('LLMSVC_ERR_INVALID_PARAM', /input\[1\]/));
    const chat = { model: 'tiny-embed', messages: [{ role: 'user' as const, content: 'hi' }], sampling: {} };
    await assert.rejects(provider.chat(chat), assertApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', /embedding model.*\/v1\/embeddings/));
    await assert.rejects(provider.complete({ model: 'tiny-embed', prompt: 'hi', sampling: {} }), assertApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', /embedding model/));
    await assert.rejects(provider.countChatTokens(chat), assertApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', /embedding model/));
  });

  test('a missing file named by the directory reader', async () => {
    const dir = join(scratch, 'partial');
    await synthesizeOnnxEmbeddingModel(dir, { preset: 'tiny' });
    await rm(join(dir, '1_Pooling'), { recursive: true });
    assert.throws(() => readEmbeddingModelDirectory(dir), assertApiError('LLMSVC_ERR_MODEL_LOAD_FAILED', /1_Pooling\/config\.json is missing/));
    await rm(join(dir, 'model.onnx'));
    assert.throws(() => readEmbeddingModelDirectory(dir), assertApiError('LLMSVC_ERR_MODEL_LOAD_FAILED', /model\.onnx is missing/));
  });
});

describe('ONNX models served over HTTP', () => {
  test('/v1/embeddings serves a generated ONNX model beside the GGUF ones; chat on it is a clear 400', async () => {
    const { default: OpenAI } = await import('openai');
    const { startTestServer, testAdminKey, tinyModelPath } = await import('./support/server.js');
    const { symlink } = await import('node:fs/promises');
    const modelsDir = join(scratch, 'served-models');
    await mkdir(modelsDir);
    await symlink(tinyModelPath, join(modelsDir, 'llama-2-tiny-random.gguf'));
    await synthesizeOnnxEmbeddingModel(join(modelsDir, 'mini-embed'), { preset: 'tiny', seed: 3 });
    const server = await startTestServer({ models_dir: modelsDir });
    try {
      const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
      const ids = (await client.models.list()).data.map((model) => model.id);
      assert.ok(ids.includes('mini-embed') && ids.includes('llama-2-tiny-random'), ids.join(', '));
      const response = await client.embeddings.create({ model: 'mini-embed', input: ['red apples', 'green pears'] });
      assert.equal(response.data.length, 2);
      assert.equal(response.data[0]!.embedding.length, 32);
      assert.ok(Math.abs(norm(response.data[0]!.embedding) - 1) < 1e-4);
      assert.ok(response.usage.prompt_tokens > 4);
      const error = await client.chat.completions.create({ model: 'mini-embed', messages: [{ role: 'user', content: 'hi' }] }).catch((caught: unknown) => caught);
      assert.ok(error instanceof OpenAI.APIError);
      assert.equal(error.status, 400);
      assert.equal(error.code, 'model_not_supported');

      // A vector store with no embedding_model takes the ONNX model (a dedicated embedding model
      // is preferred over the GGUF one), and its files are searchable.
      const store = await client.vectorStores.create({ name: 'onnx-store' });
      const { toFile } = await import('openai');
      const file = await client.files.create({ file: await toFile(Buffer.from('Red apples grow on trees. Green pears too.'), 'fruit.txt'), purpose: 'assistants' });
      const attached = await client.vectorStores.files.createAndPoll(store.id, { file_id: file.id }, { pollIntervalMs: 50 });
      assert.equal(attached.status, 'completed');
      const hits = await client.vectorStores.search(store.id, { query: 'apples', ranking_options: { ranker: 'vector' } as never });
      assert.equal(hits.data[0]?.file_id, file.id);
      const record = await server.service.store.vectorStores.find(store.id);
      assert.equal(record?.embeddingModel, 'mini-embed');
      assert.equal(record?.dimensions, 32);
    } finally {
      await server.stop();
    }
  });
});
