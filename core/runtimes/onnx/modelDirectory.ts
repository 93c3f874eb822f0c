import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../errors/index.js';

export type PoolingMode = 'mean' | 'cls' | 'max';

/** Everything a sentence-transformers ONNX directory says about how to embed with it. */
export interface EmbeddingModelSpec {
  id: string;
  modelPath: string;
  /** The parsed tokenizer.json and tokenizer_config.json. */
  tokenizer: object;
  tokenizerConfig: object;
  /** The longest input in tokens, special tokens included; longer inputs are truncated. */
  maxLength: number;
  vocabSize: number;
  /** The token id that fills padded positions (masked out, so any valid id would do). */
  padId: number;
  dimension: number;
  pooling: PoolingMode;
  normalize: boolean;
}

const DEFAULT_MAX_LENGTH = 512;
// Hugging Face writes a huge sentinel as model_max_length when a tokenizer sets none.
const UNSET_MAX_LENGTH = 1_000_000;

const POOLING_FLAGS: Record<string, PoolingMode | null> = {
  pooling_mode_mean_tokens: 'mean',
  pooling_mode_cls_token: 'cls',
  pooling_mode_max_tokens: 'max',
  pooling_mode_mean_sqrt_len_tokens: null,
  pooling_mode_weightedmean_tokens: null,
  pooling_mode_lasttoken: null,
};

function loadFailed(id: string, problem: string): ApiError {
  return new ApiError(
    'LLMSVC_ERR_MODEL_LOAD_FAILED',
    `The embedding model '${id}' cannot be loaded: ${problem}. A model directory is a sentence-transformers ONNX export: ` +
      `model.onnx, tokenizer.json, tokenizer_config.json, config.json, modules.json and the pooling config it names (1_Pooling/config.json).`,
    'model',
  );
}

function readJson(dir: string, id: string, file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw loadFailed(id, `${file} is missing`);
    throw loadFailed(id, `${file} cannot be read (${(error as Error).message})`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw loadFailed(id, `${file} is not valid JSON`);
  }
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** The tightest of the limits the configs give: the sentence-transformers max_seq_length, the
 *  tokenizer's model_max_length and the position table's size. */
function maxLengthOf(sentenceBert: Record<string, unknown> | undefined, tokenizerConfig: Record<string, unknown>, config: Record<string, unknown>): number {
  const tokenizerMax = positiveInteger(tokenizerConfig.model_max_length);
  const limits = [
    positiveInteger(sentenceBert?.max_seq_length),
    tokenizerMax !== undefined && tokenizerMax < UNSET_MAX_LENGTH ? tokenizerMax : undefined,
    positiveInteger(config.max_position_embeddings),
  ].filter((limit): limit is number => limit !== undefined);
  return limits.length ? Math.min(...limits) : DEFAULT_MAX_LENGTH;
}

function poolingOf(id: string, file: string, poolingConfig: Record<string, unknown>): PoolingMode {
  const enabled = Object.keys(POOLING_FLAGS).filter((flag) => poolingConfig[flag] === true);
  const mode = enabled.length === 1 ? POOLING_FLAGS[enabled[0]!] : null;
  if (!mode) throw loadFailed(id, `${file} asks for pooling ${enabled.join(' + ') || '(none)'}; supported: exactly one of mean, CLS or max`);
  return mode;
}

function vocabularySize(tokenizer: Record<string, unknown>): number {
  const vocab = (tokenizer.model as { vocab?: unknown } | undefined)?.vocab;
  if (Array.isArray(vocab)) return vocab.length;
  return vocab && typeof vocab === 'object' ? Object.keys(vocab).length : 0;
}

/** Reads and checks a model directory; errors name the file that is missing or wrong. */
export function readEmbeddingModelDirectory(dir: string): EmbeddingModelSpec {
  const id = path.basename(dir);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw loadFailed(id, 'its directory does not exist');
  const modelPath = path.join(dir, 'model.onnx');
  if (!fs.statSync(modelPath, { throwIfNoEntry: false })?.isFile()) throw loadFailed(id, 'model.onnx is missing');

  const tokenizer = readJson(dir, id, 'tokenizer.json');
  const tokenizerConfig = readJson(dir, id, 'tokenizer_config.json');
  const config = readJson(dir, id, 'config.json');
  const modules = readJson(dir, id, 'modules.json') as unknown;
  if (!Array.isArray(modules)) throw loadFailed(id, 'modules.json is not a list of modules');
  const moduleList = modules as { type?: unknown; path?: unknown }[];
  const poolingModule = moduleList.find((module) => typeof module.type === 'string' && module.type.endsWith('.Pooling'));
  if (!poolingModule || typeof poolingModule.path !== 'string') throw loadFailed(id, 'modules.json lists no Pooling module');
  const poolingFile = path.posix.join(poolingModule.path, 'config.json');
  const poolingConfig = readJson(dir, id, poolingFile);
  const sentenceBert = fs.existsSync(path.join(dir, 'sentence_bert_config.json')) ? readJson(dir, id, 'sentence_bert_config.json') : undefined;

  const vocabSize = positiveInteger(config.vocab_size) ?? vocabularySize(tokenizer);
  const dimension = positiveInteger(poolingConfig.word_embedding_dimension) ?? positiveInteger(config.hidden_size);
  if (!vocabSize) throw loadFailed(id, 'neither config.json (vocab_size) nor tokenizer.json gives the vocabulary size');
  if (!dimension) throw loadFailed(id, `neither ${poolingFile} (word_embedding_dimension) nor config.json (hidden_size) gives the embedding dimension`);
  return {
    id,
    modelPath,
    tokenizer,
    tokenizerConfig,
    maxLength: maxLengthOf(sentenceBert, tokenizerConfig, config),
    vocabSize,
    padId: typeof config.pad_token_id === 'number' && config.pad_token_id >= 0 && config.pad_token_id < vocabSize ? config.pad_token_id : 0,
    dimension,
    pooling: poolingOf(id, poolingFile, poolingConfig),
    normalize: moduleList.some((module) => typeof module.type === 'string' && module.type.endsWith('.Normalize')),
  };
}

export interface OnnxModelDirectory {
  /** The public model id: the directory's name. */
  id: string;
  dir: string;
  /** Bytes of model.onnx (the weights; the tokenizer and configs are small beside them). */
  bytes: number;
  /** model.onnx's modification time, unix seconds (OpenAI's `created`). */
  created: number;
}

/** Every subdirectory of the models dir that holds a `model.onnx` is an ONNX model. Read on each
 *  call, so a model copied into the folder is served without a restart. */
export function listOnnxModelDirectories(modelsDir: string): OnnxModelDirectory[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .sort()
    .flatMap((name) => {
      const dir = path.join(modelsDir, name);
      const model = fs.statSync(path.join(dir, 'model.onnx'), { throwIfNoEntry: false });
      return model?.isFile() ? [{ id: name, dir, bytes: model.size, created: Math.floor(model.mtimeMs / 1000) }] : [];
    });
}
