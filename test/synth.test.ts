// Synthetic GGUF generator: number formats, GGUF round trips, and real loads/generation in node-llama-cpp.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama, LlamaChatSession, LlamaCompletion, readGgufFileInfo, type Llama } from 'node-llama-cpp';
import { synthesizeModel, synthPresets, type SynthOptions } from '../models/synth/index.js';
import { GgmlType, ggmlTensorBytes, gv, type GgufKv } from '../models/synth/gguf.js';
import { encodeGgufHeader } from '../models/synth/ggufWriter.js';
import { readGgufMetadata } from '../models/synth/ggufReader.js';
import { dequantizeQ8_0, f16ToF32, f32ToF16, quantizeQ8_0 } from '../models/synth/quantize.js';
import { llamaTensors } from '../models/synth/llamaLayout.js';
import { buildTokenizer, paddingPiece } from '../models/synth/tokenizer.js';
import { TensorSource } from '../models/synth/weights.js';

const projectRoot = fileURLToPath(new URL('..', import.meta.url));
const sharedModel = resolve(projectRoot, process.env.LLMSVC_TEST_MODELS_DIR ?? '../shared/models', 'llama-2-tiny-random.gguf');

describe('f16 conversion', () => {
  test('known values', () => {
    assert.equal(f32ToF16(1), 0x3c00);
    assert.equal(f32ToF16(-2), 0xc000);
    assert.equal(f32ToF16(0), 0);
    assert.equal(f32ToF16(-0), 0x8000);
    assert.equal(f32ToF16(65504), 0x7bff);
    assert.equal(f32ToF16(65520), 0x7c00); // rounds up past the largest finite half
    assert.equal(f32ToF16(Infinity), 0x7c00);
    assert.equal(f32ToF16(-Infinity), 0xfc00);
    assert.equal(f32ToF16(NaN) & 0x7e00, 0x7e00);
    assert.equal(f32ToF16(2 ** -14), 0x0400); // smallest normal
    assert.equal(f32ToF16(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(f32ToF16(3 * 2 ** -24), 0x0003);
    assert.equal(f32ToF16(2 ** -25), 0); // tie between 0 and the smallest subnormal: to even
    assert.equal(f32ToF16(1.5 * 2 ** -24), 0x0002); // tie: to even
    assert.equal(f32ToF16(1 + 2 ** -11), 0x3c00); // tie: to even
    assert.equal(f32ToF16(1 + 3 * 2 ** -11), 0x3c02); // tie: to even
  });

  test('every finite half survives a round trip', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      assert.equal(f32ToF16(f16ToF32(h)), h, `0x${h.toString(16)}`);
    }
  });
});

describe('q8_0', () => {
  test('block layout: f16 scale then 32 int8, dequantizes close to the input', () => {
    const values = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i * 0.7) * (i < 32 ? 0.05 : 3));
    values.fill(0, 64); // an all-zero block gets scale 0
    const q = quantizeQ8_0(values);
    assert.equal(q.length, 3 * 34);
    const d0 = f16ToF32(q[0]! | (q[1]! << 8));
    const amax0 = Math.max(...Array.from(values.subarray(0, 32), Math.abs));
    assert.ok(Math.abs(d0 - amax0 / 127) < 1e-3 * d0);
    assert.equal(q[68], 0);
    assert.equal(q[69], 0);
    const back = dequantizeQ8_0(q);
    for (let b = 0; b < 3; b++) {
      const d = f16ToF32(q[b * 34]! | (q[b * 34 + 1]! << 8));
      for (let i = b * 32; i < b * 32 + 32; i++) assert.ok(Math.abs(back[i]! - values[i]!) <= d * 0.5 + Math.abs(values[i]!) * 1e-3, `value ${i}`);
    }
    // the largest magnitude of a block maps to ±127
    const qs = new Int8Array(q.buffer, q.byteOffset + 2, 32);
    assert.equal(Math.max(...Array.from(qs, Math.abs)), 127);
  });

  test('random Q8_0 rows: constant scale, no -128, zeroed rows', () => {
    const spec = { name: 't', dims: [64, 8], type: GgmlType.Q8_0, fill: { kind: 'uniform' as const, std: 0.02, zeroRows: new Set([3]) } };
    const src = new TensorSource(spec, 1, 0);
    const buf = new ArrayBuffer(4096);
    const n = src.next(buf, 4096);
    assert.equal(n, ggmlTensorBytes(GgmlType.Q8_0, [64, 8]));
    assert.equal(src.next(buf, 4096), 0);
    const bytes = new Uint8Array(buf, 0, n);
    const scale = f32ToF16((0.02 * Math.sqrt(3)) / 127);
    for (let blk = 0; blk < 16; blk++) {
      const o = blk * 34;
      const row = Math.floor(blk / 2);
      const block = bytes.subarray(o, o + 34);
      if (row === 3) {
        assert.ok(block.every((v) => v === 0));
        continue;
      }
      assert.equal(block[0]! | (block[1]! << 8), scale);
      assert.ok(block.subarray(2).every((v) => v !== 0x80));
    }
    const vals = dequantizeQ8_0(bytes);
    const nonZero = Array.from(vals).filter((_, i) => Math.floor(i / 64) !== 3);
    const std = Math.sqrt(nonZero.reduce((s, v) => s + v * v, 0) / nonZero.length);
    assert.ok(std > 0.015 && std < 0.025, `std ${std}`);
  });
});

describe('GGUF serialisation', () => {
  test('metadata of every type round-trips through the reader', async () => {
    const kvs: GgufKv[] = [
      ['general.alignment', gv.u32(32)],
      ['a.u8', { type: 'uint8', value: 255 }],
      ['a.i8', { type: 'int8', value: -3 }],
      ['a.u16', { type: 'uint16', value: 65535 }],
      ['a.i16', { type: 'int16', value: -300 }],
      ['a.i32', gv.i32(-70000)],
      ['a.f32', gv.f32(0.5)],
      ['a.f64', { type: 'float64', value: Math.PI }],
      ['a.u64', { type: 'uint64', value: 2n ** 60n }],
      ['a.i64', { type: 'int64', value: -(2n ** 40n) }],
      ['a.bool', gv.bool(true)],
      ['a.str', gv.str('héllo ▁ \uFEFF')],
      ['a.raw', { type: 'string', value: Uint8Array.from([0xff, 0x00, 0xc3]) }],
      ['a.strs', gv.strArr(['', 'x', '\uFEFF', '日本'])],
      ['a.f32s', gv.f32Arr(Float32Array.from([1, -2.5, 0]))],
      ['a.i32s', gv.i32Arr(Int32Array.from([1, -2, 3]))],
      ['a.nested', { type: 'array', itemType: 'array', values: [{ type: 'array', itemType: 'bool', values: [true, false] }] }],
    ];
    const { header, dataBytes } = encodeGgufHeader(kvs, []);
    assert.equal(dataBytes, 0);
    assert.equal(header.length % 32, 0);
    const dir = await mkdtemp(join(tmpdir(), 'synth-gguf-'));
    try {
      const file = join(dir, 'kv.gguf');
      await writeFile(file, header);
      const meta = readGgufMetadata(file);
      assert.equal(meta.version, 3);
      assert.equal(meta.tensorCount, 0n);
      assert.deepEqual(meta.kvs, kvs);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('duplicate keys are rejected', () => {
    assert.throws(() => encodeGgufHeader([['k', gv.u32(1)], ['k', gv.u32(2)]], []), /duplicate/);
  });
});

describe('tokenizer and presets', () => {
  test('built-in vocabulary: fixed ids, unique tokens, exact size', () => {
    for (const size of [512, 32000, 49152]) {
      const tok = buildTokenizer(size);
      const tokens = tok.kvs.find(([k]) => k === 'tokenizer.ggml.tokens')![1];
      assert.ok(tokens.type === 'array' && tokens.itemType === 'string');
      assert.equal(tokens.values.length, size);
      assert.equal(new Set(Array.from(tokens.values as ArrayLike<string>)).size, size);
      assert.deepEqual([tokens.values[0], tokens.values[1], tokens.values[2], tokens.values[3], tokens.values[258]], ['<unk>', '<s>', '</s>', '<0x00>', '<0xFF>']);
      assert.ok(tok.suppressedTokens.has(2) && tok.suppressedTokens.has(3) && !tok.suppressedTokens.has(300));
    }
    assert.equal(paddingPiece(0), '\u2581Ba');
    assert.notEqual(paddingPiece(69), paddingPiece(70));
  });

  test('preset shapes', () => {
    const expected = { tiny: [21, 0.15e6, 0.2e6], small: [273, 0.16e9, 0.17e9], '1b': [201, 1.09e9, 1.11e9] } as const;
    for (const [name, shape] of Object.entries(synthPresets)) {
      const tensors = llamaTensors(shape, shape.nVocab, 'q8_0', new Set());
      const params = tensors.reduce((s, t) => s + t.dims.reduce((a, b) => a * b, 1), 0);
      const [count, lo, hi] = expected[name as keyof typeof expected];
      assert.equal(tensors.length, count, name);
      assert.ok(params > lo && params < hi, `${name}: ${params} parameters`);
      // every matrix of the presets fits Q8_0 blocks, so nothing silently falls back to F16
      assert.ok(tensors.every((t) => t.dims.length === 1 || t.type === GgmlType.Q8_0), name);
    }
    const t = llamaTensors(synthPresets['1b'], 32000, 'f16', new Set());
    assert.deepEqual(t.find((x) => x.name === 'blk.0.attn_k.weight')!.dims, [2048, 256]);
    assert.deepEqual(t.find((x) => x.name === 'blk.21.ffn_down.weight')!.dims, [5632, 2048]);
  });
});

describe('synthesizeModel with node-llama-cpp', () => {
  let dir: string;
  let llama: Llama;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'synth-test-'));
    llama = await getLlama({ gpu: false, build: 'never' });
  });
  after(async () => {
    await llama?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function generate(modelPath: string, maxTokens = 16): Promise<{ tokens: number; text: string }> {
    const model = await llama.loadModel({ modelPath });
    try {
      const context = await model.createContext({ threads: 1, contextSize: 256 });
      const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
      let tokens = 0;
      const text = await completion.generateCompletion('The model says', { maxTokens, onToken: (t) => { tokens += t.length; } });
      await context.dispose();
      return { tokens, text };
    } finally {
      await model.dispose();
    }
  }

  for (const quant of ['f16', 'q8_0'] as const) {
    test(`tiny ${quant}: parses, loads and generates`, async () => {
      const outFile = join(dir, `tiny-${quant}.gguf`);
      let last: [number, number] = [-1, -1];
      const r = await synthesizeModel({ outFile, preset: 'tiny', quant, onProgress: (d, t) => { last = [d, t]; } });
      assert.equal(r.quant, quant);
      assert.equal(r.vocabSize, 512);
      assert.equal(r.bytes, (await readFile(outFile)).length);
      assert.equal(last[0], last[1]);
      assert.ok(last[1] > 0 && last[1] < r.bytes);
      assert.deepEqual((await readdir(dir)).filter((f) => f.includes('.tmp-')), []);

      const info = await readGgufFileInfo(outFile, { readTensorInfo: true });
      const md = info.metadata as any;
      assert.equal(info.version, 3);
      assert.equal(md.general.architecture, 'llama');
      assert.equal(md.general.file_type, quant === 'f16' ? 1 : 7);
      assert.equal(md.llama.block_count, 2);
      assert.equal(md.llama.embedding_length, 64);
      assert.equal(Number(info.tensorCount), 3 + 9 * 2);
      assert.equal(md.tokenizer.ggml.tokens.length, 512);
      const tq = info.fullTensorInfo!.find((t) => t.name === 'blk.1.attn_q.weight')!;
      assert.equal(tq.ggmlType, quant === 'f16' ? GgmlType.F16 : GgmlType.Q8_0);

      const { tokens } = await generate(outFile);
      assert.ok(tokens > 0, 'no tokens generated');
      // the end-of-sequence row of output.weight is zero, so greedy decoding runs to maxTokens
      assert.ok(tokens >= 16, `only ${tokens} tokens`);
    });
  }

  test('tiny: chat template resolves and the chat session answers', async () => {
    const outFile = join(dir, 'tiny-chat.gguf');
    await synthesizeModel({ outFile, preset: 'tiny' });
    const model = await llama.loadModel({ modelPath: outFile });
    try {
      const context = await model.createContext({ threads: 1, contextSize: 256 });
      const session = new LlamaChatSession({ contextSequence: context.getSequence() });
      assert.equal(session.chatWrapper.wrapperName, 'ChatML');
      let tokens = 0;
      await session.prompt('Hello!', { maxTokens: 8, temperature: 0.8, seed: 1, onToken: (t) => { tokens += t.length; } });
      assert.ok(tokens > 0);
      // SentencePiece merges reach the common pieces ("▁the" is one token), other text falls back to bytes
      assert.deepEqual(model.tokenize('the').map((t) => model.detokenize([t], false)), ['the']);
      assert.equal(model.tokenize('\u00e9').length, 3); // "▁" + two UTF-8 byte tokens
      await context.dispose();
    } finally {
      await model.dispose();
    }
  });

  test('small q8_0: real shape loads, generates, and text never tokenizes to padding', async () => {
    const outFile = join(dir, 'small.gguf');
    const r = await synthesizeModel({ outFile, preset: 'small' });
    assert.equal(r.quant, 'q8_0');
    assert.equal(r.vocabSize, 49152);
    const info = await readGgufFileInfo(outFile);
    const md = info.metadata as any;
    assert.equal(Number(info.tensorCount), 3 + 9 * 30);
    assert.equal(md.llama.attention.head_count_kv, 3);
    const firstPadding = (md.tokenizer.ggml.tokens as string[]).indexOf(paddingPiece(0));
    assert.ok(firstPadding > 800 && firstPadding < 1000, `first padding id ${firstPadding}`);

    const model = await llama.loadModel({ modelPath: outFile });
    try {
      const words = Array.from({ length: 3000 }, (_, i) => paddingPiece(i * 16).slice(1));
      const ids = model.tokenize(words.join(' '));
      assert.ok(ids.every((id) => id < firstPadding));
    } finally {
      await model.dispose();
    }
    const { tokens } = await generate(outFile, 4);
    assert.ok(tokens > 0);
    await rm(outFile);
  });

  test('same seed gives the same bytes, another seed other bytes', async () => {
    const opts = (seed: number, name: string): SynthOptions => ({ outFile: join(dir, name), preset: 'tiny', quant: 'q8_0', seed });
    await synthesizeModel(opts(7, 'a.gguf'));
    await synthesizeModel(opts(7, 'b.gguf'));
    await synthesizeModel(opts(8, 'c.gguf'));
    const [a, b, c] = await Promise.all(['a.gguf', 'b.gguf', 'c.gguf'].map((f) => readFile(join(dir, f))));
    assert.ok(a!.equals(b!));
    assert.equal(a!.length, c!.length);
    assert.ok(!a!.equals(c!));
  });

  test('a failure leaves neither the model nor its temporary file', async () => {
    const outFile = join(dir, 'fail.gguf');
    await assert.rejects(
      synthesizeModel({ outFile, preset: 'tiny', onProgress: (d) => { if (d > 0) throw new Error('stop'); } }),
      /stop/,
    );
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('fail.gguf')), []);
  });

  test('vocabFrom copies the tokenizer of another GGUF', async () => {
    assert.ok(existsSync(sharedModel), `shared test model missing: ${sharedModel}`);
    const outFile = join(dir, 'tiny-llama2-vocab.gguf');
    const r = await synthesizeModel({ outFile, preset: 'tiny', quant: 'q8_0', vocabFrom: sharedModel, name: 'borrowed vocab' });
    assert.equal(r.vocabSize, 32000);

    const info = await readGgufFileInfo(outFile, { readTensorInfo: true });
    const md = info.metadata as any;
    assert.equal(md.general.name, 'borrowed vocab');
    assert.equal(md.tokenizer.ggml.tokens.length, 32000);
    assert.equal(md.llama.vocab_size, 32000);
    assert.deepEqual(info.fullTensorInfo!.find((t) => t.name === 'output.weight')!.dimensions, [64, 32000]);
    // exact copy, value types included (the vocabulary has a token that is just U+FEFF)
    const tokKvs = (p: string) => readGgufMetadata(p).kvs.filter(([k]) => k.startsWith('tokenizer.'));
    assert.deepEqual(tokKvs(outFile), tokKvs(sharedModel));

    const { tokens } = await generate(outFile);
    assert.ok(tokens > 0);
    const [mine, theirs] = [await llama.loadModel({ modelPath: outFile }), await llama.loadModel({ modelPath: sharedModel })];
    try {
      const text = 'Hello world, synthetic models tokenize like the original.';
      assert.deepEqual(mine.tokenize(text), theirs.tokenize(text));
    } finally {
      await mine.dispose();
      await theirs.dispose();
    }
  });
});
