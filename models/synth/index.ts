// Synthetic llama GGUF models: real shapes, random weights. Decode speed does not depend on weight values,
// so benchmarks get realistic models without a download, and tests get a tiny model in milliseconds.
import { endianness } from 'node:os';
import { encodeGgufHeader, GgufFileWriter } from './ggufWriter.js';
import { checkShape, llamaMetadata, llamaTensors } from './llamaLayout.js';
import { isSynthPreset, synthPresets, type SynthPreset, type SynthQuant } from './presets.js';
import { buildTokenizer } from './tokenizer.js';
import { tokenizerFromGguf } from './tokenizerFromGguf.js';
import { TensorSource } from './weights.js';

export { synthPresets, type SynthPreset, type SynthQuant, type SynthShape } from './presets.js';

export interface SynthOptions {
  outFile: string;
  preset: SynthPreset;
  /** default: the preset's (`f16` for tiny, `q8_0` for small and 1b) */
  quant?: SynthQuant;
  /** path of another GGUF whose tokenizer (all tokenizer.* keys) is copied; sets the vocabulary size */
  vocabFrom?: string;
  /** same seed (default 0) and options give a byte-identical file */
  seed?: number;
  /** general.name; default `synth-<preset>-<quant>` */
  name?: string;
  /** llama.context_length (the training context) instead of the preset's: long-context models
   *  of a given shape, e.g. to test what a large context_size costs in memory */
  contextLength?: number;
  /** bytes of tensor data written so far, of the total */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthResult {
  outFile: string;
  bytes: number;
  parameters: number;
  vocabSize: number;
  preset: SynthPreset;
  quant: SynthQuant;
}

// Part of the file format's reproducibility: the random stream is consumed per chunk of this many bytes.
const CHUNK_BUDGET = 4 << 20;

export async function synthesizeModel(opts: SynthOptions): Promise<SynthResult> {
  if (endianness() !== 'LE') throw new Error('synthesizeModel writes little-endian typed arrays; big-endian hosts are not supported');
  if (!isSynthPreset(opts.preset)) throw new Error(`unknown preset ${String(opts.preset)}`);
  const shape = { ...synthPresets[opts.preset], contextLength: opts.contextLength ?? synthPresets[opts.preset].contextLength };
  checkShape(shape);
  const quant = opts.quant ?? shape.quant;
  if (quant !== 'f16' && quant !== 'q8_0') throw new Error(`unknown quantisation ${String(quant)}`);
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);

  const tokenizer = opts.vocabFrom ? tokenizerFromGguf(opts.vocabFrom) : buildTokenizer(shape.nVocab);
  const nVocab = tokenizer.vocabSize;
  const specs = llamaTensors(shape, nVocab, quant, tokenizer.suppressedTokens);
  const kvs = [...llamaMetadata(shape, nVocab, quant, opts.name ?? `synth-${opts.preset}-${quant}`), ...tokenizer.kvs];
  const layout = encodeGgufHeader(kvs, specs);

  const sources = specs.map((spec, i) => new TensorSource(spec, seed, i));
  const parameters = specs.reduce((sum, t) => sum + t.dims.reduce((a, b) => a * b, 1), 0);
  const total = sources.reduce((sum, s) => sum + s.totalBytes, 0);
  const bufBytes = Math.ceil(Math.max(...sources.map((s) => s.chunkBytes(CHUNK_BUDGET))) / 4) * 4;
  // two buffers: one is filled while the other is being written
  const buffers = [new ArrayBuffer(bufBytes), new ArrayBuffer(bufBytes)];

  const writer = await GgufFileWriter.create(opts.outFile, layout);
  try {
    let done = 0;
    let k = 0;
    opts.onProgress?.(0, total);
    for (const src of sources) {
      for (let n = src.next(buffers[k]!, CHUNK_BUDGET); n > 0; n = src.next(buffers[k]!, CHUNK_BUDGET)) {
        await writer.write(new Uint8Array(buffers[k]!, 0, n));
        k ^= 1;
        done += n;
        opts.onProgress?.(done, total);
      }
    }
    await writer.finish();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return { outFile: opts.outFile, bytes: writer.totalBytes, parameters, vocabSize: nVocab, preset: opts.preset, quant };
}
