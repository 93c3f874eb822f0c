import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getLlama, LlamaCompletion, type Llama, type LlamaContext, type LlamaModel } from 'node-llama-cpp';
import { LlamaRuntime } from '../core/runtimes/index.js';
import { testFastAddonDir, skipUnlessFastAddon } from './support/fastAddon.js';
import { buildInfoFile, fastAddonAdditions, sequenceEmbeddingReader, type FastAddonBuildInfo } from '../core/runtimes/llama/fastAddon.js';

const tinyModelPath = path.resolve(import.meta.dirname, '../../shared/models/llama-2-tiny-random.gguf');
const fastAddonDir = testFastAddonDir;
const skipUnlessBuilt = skipUnlessFastAddon;

/** The low-level context of node-llama-cpp 3.21.1 (AddonContext), with the fast addon's additions. */
interface AddonContext {
  initBatch(size: number): void;
  addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): ArrayLike<number>;
  decodeBatch(): Promise<void>;
  disposeSequence(sequenceId: number): void;
  getEmbedding(inputTokensLength: number, maxVectorSize?: number): Float64Array;
  getSequenceEmbedding?(sequenceId: number, batchIndexOfLastToken?: number, maxVectorSize?: number): Float64Array;
}
const addonContextOf = (context: LlamaContext) => (context as unknown as { _ctx: AddonContext })._ctx;

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe('fast addon: a build that does not fit is refused loudly', () => {
  it('warns once and runs on the prebuilt addon when the build is for another node-llama-cpp', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-fast-addon-'));
    const info: FastAddonBuildInfo = { nodeLlamaCpp: '0.0.1', llamaCppRelease: 'v0.0.0', libraries: {}, additions: [] };
    fs.writeFileSync(path.join(dir, buildInfoFile), JSON.stringify(info));
    const warnings: string[] = [];
    const runtime = new LlamaRuntime({ gpu: false, fastAddonDir: dir, onLog: (level, message) => level === 'warn' && warnings.push(message) });
    try {
      const llama = await runtime.llama();
      assert.equal(runtime.fastAddonPath, undefined);
      assert.deepEqual(fastAddonAdditions(llama), []);
      const fastAddonWarnings = warnings.filter((line) => line.includes('fast addon'));
      assert.equal(fastAddonWarnings.length, 1, warnings.join('\n'));
      assert.match(fastAddonWarnings[0]!, /built for node-llama-cpp 0\.0\.1/);
    } finally {
      await runtime.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says nothing and runs on the prebuilt addon when none is built', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-fast-addon-'));
    const warnings: string[] = [];
    const runtime = new LlamaRuntime({ gpu: false, fastAddonDir: dir, onLog: (level, message) => level === 'warn' && warnings.push(message) });
    try {
      await runtime.llama();
      assert.equal(runtime.fastAddonPath, undefined);
      assert.deepEqual(warnings.filter((line) => line.includes('fast addon')), []);
    } finally {
      await runtime.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fast addon: built', { skip: skipUnlessBuilt }, () => {
  let runtime: LlamaRuntime;
  let fast: Llama;
  let stock: Llama;
  let fastModel: LlamaModel;
  let stockModel: LlamaModel;
  const warnings: string[] = [];
  const infos: string[] = [];

  before(async () => {
    runtime = new LlamaRuntime({ gpu: false, fastAddonDir, onLog: (level, message) => (level === 'info' ? infos : warnings).push(message) });
    fast = await runtime.llama();
    stock = await getLlama({ gpu: false, build: 'never' });
    fastModel = await fast.loadModel({ modelPath: tinyModelPath });
    stockModel = await stock.loadModel({ modelPath: tinyModelPath });
  });

  after(async () => {
    await fastModel?.dispose();
    await stockModel?.dispose();
    await runtime?.dispose();
    await stock?.dispose();
  });

  it('is what the runtime loads, with its additions', () => {
    assert.equal(runtime.fastAddonPath, path.join(fastAddonDir, 'llama-addon.node'), warnings.join('\n'));
    assert.deepEqual(fastAddonAdditions(fast).sort(), ['getSequenceEmbedding', 'sampleTokenSync']);
    assert.deepEqual(fastAddonAdditions(stock), []);
    assert.equal(runtime.backend, 'cpu');
    assert.ok(infos.some((line) => line.includes(runtime.fastAddonPath!)), 'the runtime says which addon it runs on');
  });

  it('offers getSequenceEmbedding only on the fast addon', async () => {
    const embeddingOptions = { contextSize: 128, _embeddings: true } as Parameters<LlamaModel['createContext']>[0];
    const [fastContext, stockContext] = [await fastModel.createContext(embeddingOptions), await stockModel.createContext(embeddingOptions)];
    try {
      assert.equal(typeof sequenceEmbeddingReader(fastContext), 'function');
      assert.equal(sequenceEmbeddingReader(stockContext), undefined);
    } finally {
      await fastContext.dispose();
      await stockContext.dispose();
    }
  });

  it('generates one stream as the prebuilt addon does, greedy and seeded, without synchronous sampling', async () => {
    const complete = async (model: LlamaModel, temperature: number) => {
      const context = await model.createContext({ contextSize: 256 });
      try {
        // Count the synchronous samples (the addon's methods are read-only: define one on the instance).
        const addon = addonContextOf(context);
        let syncSamples = 0;
        const sampleTokenSync = addon.sampleTokenSync;
        if (sampleTokenSync) {
          Object.defineProperty(addon, 'sampleTokenSync', {
            value(this: AddonContext, ...args: Parameters<typeof sampleTokenSync>) {
              syncSamples += 1;
              return sampleTokenSync.apply(this, args);
            },
          });
        }
        const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
        let tokens = 0;
        const text = await completion.generateCompletion('The quick brown fox', { maxTokens: 8, temperature, seed: 7, onToken: (chunk) => (tokens += chunk.length) });
        return { text, tokens, syncSamples };
      } finally {
        await context.dispose();
      }
    };
    for (const temperature of [0, 0.8]) {
      const [fromFast, fromStock] = [await complete(fastModel, temperature), await complete(stockModel, temperature)];
      assert.ok(fromStock.tokens > 0);
      assert.equal(fromFast.text, fromStock.text, `temperature ${temperature}`);
      assert.equal(fromFast.syncSamples, 0, 'synchronous sampling stays off (README: Faster local inference)');
      assert.equal(fromStock.syncSamples, 0);
    }
  });

  it("finds node-llama-cpp's bundled grammars and samples under one as the prebuilt addon does", async () => {
    const completeJson = async (llama: Llama, model: LlamaModel) => {
      const context = await model.createContext({ contextSize: 256 });
      try {
        const grammar = await llama.getGrammarFor('json');
        return await new LlamaCompletion({ contextSequence: context.getSequence() }).generateCompletion('JSON please', { maxTokens: 12, grammar, temperature: 1, seed: 4 });
      } finally {
        await context.dispose();
      }
    };
    const [fromFast, fromStock] = [await completeJson(fast, fastModel), await completeJson(stock, stockModel)];
    assert.ok(fromStock.startsWith('{'));
    assert.equal(fromFast, fromStock);
  });

  it('getSequenceEmbedding: several sequences evaluated in one batch give the vectors each gives alone', async () => {
    const inputs = ['Hello world', 'A much longer input about the quick brown fox and the lazy dog', 'Third'];
    const tokenized = inputs.map((text) => Uint32Array.from(fastModel.tokenize(text)));
    const context = await fastModel.createContext({ contextSize: 512, sequences: inputs.length, _embeddings: true } as Parameters<LlamaModel['createContext']>[0]);
    try {
      const addon = addonContextOf(context);

      // One at a time, each as sequence 0, read both ways: the stock getEmbedding and the addition.
      const alone: Float64Array[] = [];
      for (const tokens of tokenized) {
        addon.initBatch(tokens.length);
        const [lastIndex] = Array.from(addon.addToBatch(0, 0, tokens, Uint32Array.of(tokens.length - 1)));
        await addon.decodeBatch();
        const stockVector = addon.getEmbedding(tokens.length);
        const vector = addon.getSequenceEmbedding!(0, lastIndex);
        assert.deepEqual(Array.from(vector), Array.from(stockVector));
        alone.push(vector);
        addon.disposeSequence(0);
      }

      // All together, one sequence each, in one decode.
      addon.initBatch(tokenized.reduce((sum, tokens) => sum + tokens.length, 0));
      const lastIndexes = tokenized.map((tokens, sequenceId) => Array.from(addon.addToBatch(sequenceId, 0, tokens, Uint32Array.of(tokens.length - 1)))[0]!);
      await addon.decodeBatch();
      const together = tokenized.map((_, sequenceId) => addon.getSequenceEmbedding!(sequenceId, lastIndexes[sequenceId]));

      for (let i = 0; i < inputs.length; i++) {
        assert.equal(together[i]!.length, fastModel.embeddingVectorSize);
        // Batched matrix products may round differently from single ones; the vectors must agree closely.
        assert.ok(maxAbsDifference(together[i]!, alone[i]!) < 1e-3, `input ${i} differs by ${maxAbsDifference(together[i]!, alone[i]!)}`);
      }
      // Distinct inputs give distinct vectors, so the comparison above is not comparing one vector with itself.
      assert.ok(maxAbsDifference(together[0]!, together[1]!) > 1e-3);
      // maxVectorSize truncates as the stock getEmbedding does.
      assert.equal(addon.getSequenceEmbedding!(1, lastIndexes[1], 3).length, 3);
    } finally {
      await context.dispose();
    }
  });
});
