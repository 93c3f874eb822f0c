import { ApiError } from '../errors/index.js';

/** OpenAI's static chunking strategy, as the vector store file APIs take it. */
export interface StaticChunkingStrategy {
  max_chunk_size_tokens: number;
  chunk_overlap_tokens: number;
}

export type ChunkingStrategyParam = { type: 'auto' } | { type: 'static'; static: Partial<StaticChunkingStrategy> };

/** OpenAI's limits and its `auto` strategy. */
export const chunkingLimits = { minChunkSizeTokens: 100, maxChunkSizeTokens: 4096 } as const;
export const autoChunking: StaticChunkingStrategy = Object.freeze({ max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 });

/** Any model's tokenizer: node-llama-cpp's tokenize/detokenize, a Hugging Face tokenizer's
 *  encode/decode, … Chunk boundaries are token boundaries, so chunk sizes are exact for the model
 *  that embeds them. */
export interface ChunkTokenizer {
  encode(text: string): readonly number[];
  decode(tokens: readonly number[]): string;
}

export interface TextChunk {
  /** Position in the file, from 0. */
  index: number;
  text: string;
  tokenCount: number;
}

/** Checks a static strategy and fills in what is missing: max defaults to 800, overlap to 400
 *  or, for chunks under 800 tokens, half the chunk size (the largest overlap allowed). Throws a
 *  400 that names the field at fault. */
export function resolveChunkingStrategy(param: ChunkingStrategyParam | undefined): StaticChunkingStrategy {
  if (!param || param.type === 'auto') return { ...autoChunking };
  if (param.type !== 'static') {
    throw invalid('chunking_strategy.type', `must be auto or static, not ${String((param as { type: unknown }).type)}`);
  }
  const max = param.static?.max_chunk_size_tokens ?? autoChunking.max_chunk_size_tokens;
  const overlap = param.static?.chunk_overlap_tokens ?? Math.min(autoChunking.chunk_overlap_tokens, Math.floor(max / 2));
  const strategy = { max_chunk_size_tokens: max, chunk_overlap_tokens: overlap };
  validateStaticChunking(strategy);
  return strategy;
}

export function validateStaticChunking(strategy: StaticChunkingStrategy): void {
  const { max_chunk_size_tokens: max, chunk_overlap_tokens: overlap } = strategy;
  const { minChunkSizeTokens, maxChunkSizeTokens } = chunkingLimits;
  if (!Number.isInteger(max) || max < minChunkSizeTokens || max > maxChunkSizeTokens) {
    throw invalid('chunking_strategy.static.max_chunk_size_tokens', `must be an integer from ${minChunkSizeTokens} to ${maxChunkSizeTokens}, not ${max}`);
  }
  if (!Number.isInteger(overlap) || overlap < 0) {
    throw invalid('chunking_strategy.static.chunk_overlap_tokens', `must be a non-negative integer, not ${overlap}`);
  }
  if (overlap > max / 2) {
    throw invalid('chunking_strategy.static.chunk_overlap_tokens', `(${overlap}) must not exceed half of max_chunk_size_tokens (${max / 2})`);
  }
}

/** Splits text into windows of at most max_chunk_size_tokens tokens, each starting
 *  max − overlap tokens after the one before, as OpenAI's static strategy does. The last window
 *  ends at the text's end; no window lies wholly inside the one before it. */
export function chunkText(text: string, strategy: StaticChunkingStrategy, tokenizer: ChunkTokenizer): TextChunk[] {
  validateStaticChunking(strategy);
  const tokens = tokenizer.encode(text);
  const { max_chunk_size_tokens: max, chunk_overlap_tokens: overlap } = strategy;
  const stride = max - overlap;
  const chunks: TextChunk[] = [];
  for (let start = 0; start < tokens.length; start += stride) {
    const window = tokens.slice(start, start + max);
    const chunkText = tokenizer.decode(window);
    if (chunkText.trim() !== '') chunks.push({ index: chunks.length, text: chunkText, tokenCount: window.length });
    if (start + max >= tokens.length) break;
  }
  return chunks;
}

function invalid(param: string, problem: string): ApiError {
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `${param} ${problem}.`, param);
}
