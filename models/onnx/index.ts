// Synthetic sentence-embedding models: a sentence-transformers-style directory (model.onnx, the
// Hugging Face tokenizer files, config.json, modules.json, 1_Pooling/config.json) with a real BERT
// structure and random weights. Tests and benchmarks get an embedding model without a download.
import { endianness } from 'node:os';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BERT_OPSET, bertGraph, type BertShape } from './bertGraph.js';
import { encodeOnnxModel } from './onnxProto.js';
import { tokenizerConfigJson, tokenizerJson, wordPieceVocabulary } from './wordPieceTokenizer.js';

export type OnnxEmbeddingPreset = 'tiny' | 'small';
export type OnnxEmbeddingPooling = 'mean' | 'cls' | 'max';

/** tiny: for tests (32 dims, builds and runs in milliseconds); small: MiniLM's 384 dimensions with one layer. */
export const onnxEmbeddingPresets: Record<OnnxEmbeddingPreset, Readonly<{ dim: number; layers: number; maxLength: number }>> = {
  tiny: { dim: 32, layers: 1, maxLength: 64 },
  small: { dim: 384, layers: 1, maxLength: 256 },
};

export interface OnnxEmbeddingSynthOptions {
  /** default `small` */
  preset?: OnnxEmbeddingPreset;
  /** hidden size = embedding dimension; default the preset's */
  dim?: number;
  layers?: number;
  /** attention heads; default: 64-wide heads, or fewer narrower ones for small dims */
  heads?: number;
  /** the longest input in tokens (sentence-transformers' max_seq_length); default the preset's */
  maxLength?: number;
  /** default `mean` */
  pooling?: OnnxEmbeddingPooling;
  /** L2-normalise the embeddings (a Normalize module in modules.json); default true */
  normalize?: boolean;
  /** same seed (default 0) and options give byte-identical files */
  seed?: number;
  /** replace an existing directory; default false (an existing one is an error) */
  overwrite?: boolean;
}

export interface OnnxEmbeddingSynthResult {
  dir: string;
  /** bytes of model.onnx */
  bytes: number;
  parameters: number;
  dim: number;
  vocabSize: number;
  maxLength: number;
}

function defaultHeads(dim: number): number {
  if (dim % 64 === 0) return dim / 64;
  return [8, 4, 2].find((heads) => dim % heads === 0 && dim / heads >= 4) ?? 1;
}

function sentenceTransformersFiles(shape: BertShape, maxLength: number, pooling: OnnxEmbeddingPooling, normalize: boolean): Record<string, object> {
  const modules = [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
    { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    ...(normalize ? [{ idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' }] : []),
  ];
  return {
    'config.json': {
      architectures: ['BertModel'],
      model_type: 'bert',
      vocab_size: shape.vocabSize,
      hidden_size: shape.hiddenSize,
      num_hidden_layers: shape.layers,
      num_attention_heads: shape.heads,
      intermediate_size: shape.intermediateSize,
      hidden_act: 'gelu',
      max_position_embeddings: shape.maxPositions,
      type_vocab_size: shape.typeVocabSize,
      layer_norm_eps: shape.layerNormEps,
      pad_token_id: 0,
    },
    'sentence_bert_config.json': { max_seq_length: maxLength, do_lower_case: false },
    'modules.json': modules,
    '1_Pooling/config.json': {
      word_embedding_dimension: shape.hiddenSize,
      pooling_mode_cls_token: pooling === 'cls',
      pooling_mode_mean_tokens: pooling === 'mean',
      pooling_mode_max_tokens: pooling === 'max',
      pooling_mode_mean_sqrt_len_tokens: false,
      pooling_mode_weightedmean_tokens: false,
      pooling_mode_lasttoken: false,
      include_prompt: true,
    },
  };
}

/** Writes the model directory `dir` atomically: everything goes to a temporary sibling, which is
 *  then renamed, so a reader never sees a half-written model. */
export async function synthesizeOnnxEmbeddingModel(dir: string, options: OnnxEmbeddingSynthOptions = {}): Promise<OnnxEmbeddingSynthResult> {
  if (endianness() !== 'LE') throw new Error('synthesizeOnnxEmbeddingModel writes little-endian tensors; big-endian hosts are not supported');
  const preset = onnxEmbeddingPresets[options.preset ?? 'small'];
  if (!preset) throw new Error(`unknown preset ${String(options.preset)}`);
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new Error(`seed must be a safe integer, got ${seed}`);
  const pooling = options.pooling ?? 'mean';
  if (!['mean', 'cls', 'max'].includes(pooling)) throw new Error(`unknown pooling ${String(pooling)}`);
  const dim = options.dim ?? preset.dim;
  const maxLength = options.maxLength ?? preset.maxLength;
  const vocabulary = wordPieceVocabulary();
  const shape: BertShape = {
    vocabSize: vocabulary.length,
    hiddenSize: dim,
    layers: options.layers ?? preset.layers,
    heads: options.heads ?? defaultHeads(dim),
    intermediateSize: 4 * dim,
    maxPositions: maxLength,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
  };

  const { graph, parameters } = bertGraph(shape, seed);
  const onnx = encodeOnnxModel({
    ir_version: 8,
    producer_name: 'llmsvc-synth',
    producer_version: '1',
    model_version: 1,
    doc_string: `Synthetic sentence-embedding model with random weights (seed ${seed}): real structure, meaningless vectors.`,
    graph,
    opset_import: [{ domain: '', version: BERT_OPSET }],
    metadata_props: [{ key: 'llmsvc.synth.seed', value: String(seed) }],
  });
  const jsonFiles: Record<string, object> = {
    'tokenizer.json': tokenizerJson(vocabulary, maxLength),
    'tokenizer_config.json': tokenizerConfigJson(maxLength),
    ...sentenceTransformersFiles(shape, maxLength, pooling, options.normalize ?? true),
  };

  const target = path.resolve(dir);
  const exists = await fs.stat(target).then(() => true, () => false);
  if (exists && !options.overwrite) throw new Error(`${target} already exists; choose another directory or pass overwrite`);
  await fs.mkdir(path.dirname(target), { recursive: true });
  // A hidden sibling: model listings skip dot-directories, so the half-written model is never served.
  const staging = await fs.mkdtemp(path.join(path.dirname(target), `.${path.basename(target)}.tmp-`));
  try {
    await fs.chmod(staging, 0o755); // mkdtemp makes it private; a model directory is not
    await fs.writeFile(path.join(staging, 'model.onnx'), onnx);
    for (const [name, content] of Object.entries(jsonFiles)) {
      await fs.mkdir(path.join(staging, path.dirname(name)), { recursive: true });
      await fs.writeFile(path.join(staging, name), `${JSON.stringify(content, null, 2)}\n`);
    }
    if (options.normalize ?? true) await fs.mkdir(path.join(staging, '2_Normalize'));
    await replaceDirectory(staging, target, exists);
  } catch (error) {
    await fs.rm(staging, { recursive: true, force: true });
    throw error;
  }
  return { dir: target, bytes: onnx.byteLength, parameters, dim, vocabSize: vocabulary.length, maxLength };
}

/** Renames `staging` to `target`; an existing target is moved aside first and removed after. */
async function replaceDirectory(staging: string, target: string, targetExists: boolean): Promise<void> {
  if (!targetExists) return fs.rename(staging, target);
  const old = `${staging}-old`;
  await fs.rename(target, old);
  await fs.rename(staging, target);
  await fs.rm(old, { recursive: true, force: true });
}
