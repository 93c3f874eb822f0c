import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { LlamaModel, LlamaText } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';

// llama.cpp's tokenizer is quadratic on long runs of characters it has no token for (1,048,576
// × "😀" took 75 s), and it runs synchronously on the runtime thread, where every model decodes.
// A text is therefore first measured against a lower bound on its token count that costs one
// pass over its bytes: no token stands for more than L bytes of text, so a text of B bytes needs
// at least ceil(B / L) tokens. What can never fit is refused without tokenizing it, and what is
// tokenized is at most about context_size × L bytes (110 KB for a 4,096-token context at L = 27).

/** GGUF token types (llama.cpp's llama_token_type). */
const normalTokenType = 1;
const byteTokenType = 6;

const maxBytesByModel = new WeakMap<LlamaModel, number | null>();

/** The most bytes of input text one token of the model's vocabulary can stand for, or null when
 *  the tokenizer normalizes its input so that no such bound holds (WordPiece drops whitespace and
 *  accents, Unigram maps characters through a table).
 *  - SentencePiece ('llama'): a normal token's text, with "▁" standing for one space (the tokenizer
 *    escapes spaces to "▁" before matching, so the input only grows); a byte-fallback token
 *    ("<0xF0>") stands for one byte.
 *  - Byte-level BPE ('gpt2'): each character of a normal token stands for one input byte.
 *  - Any other token (control, user-defined, unknown): its text's bytes, which over-estimates. */
export function maxTokenBytes(model: LlamaModel): number | null {
  let cached = maxBytesByModel.get(model);
  if (cached !== undefined) return cached;
  const tokenizer = model.fileInfo.metadata.tokenizer.ggml as { model?: string; tokens?: readonly string[]; token_type?: readonly number[] };
  const kind = tokenizer.model;
  const tokens = tokenizer.tokens ?? [];
  const types = tokenizer.token_type ?? [];
  if ((kind !== 'llama' && kind !== 'gpt2') || tokens.length === 0) {
    cached = null;
  } else {
    let max = 1;
    tokens.forEach((text, index) => {
      const type = types[index] ?? normalTokenType;
      let bytes: number;
      if (type === byteTokenType) bytes = 1;
      else if (type !== normalTokenType) bytes = Buffer.byteLength(text);
      else if (kind === 'llama') bytes = Buffer.byteLength(text.replaceAll('\u2581', ' '));
      else bytes = [...text].length;
      if (bytes > max) max = bytes;
    });
    cached = max;
  }
  maxBytesByModel.set(model, cached);
  return cached;
}

/** A count the text's tokens cannot be below (0 when the model's tokenizer allows no bound).
 *  For a LlamaText, only its plain strings count: special tokens are tokens of their own. */
export function minimumTokenCount(model: LlamaModel, text: string | LlamaText): number {
  const perToken = maxTokenBytes(model);
  if (perToken === null) return 0;
  const strings = typeof text === 'string' ? [text] : text.values.filter((value): value is string => typeof value === 'string');
  // Adjacent strings are tokenized together, so one ceil over their sum is the sound bound.
  const bytes = strings.reduce((sum, value) => sum + Buffer.byteLength(value), 0);
  return Math.ceil(bytes / perToken);
}

/** Refuses a prompt that has at least `minimumTokens` tokens when that alone cannot fit in the
 *  context with the completion asked for; same code and wording as the exact check in
 *  completionBudget ("maximum context length", "prompt is too long", which clients look for). */
export function refuseUnfittablePrompt(
  minimumTokens: number,
  maxTokens: number | undefined,
  contextSize: number,
  model: string,
  promptParam: 'messages' | 'prompt' | 'input',
): void {
  if (minimumTokens + (maxTokens ?? 0) <= contextSize && minimumTokens < contextSize) return;
  // Only the completion's share is worth naming when the prompt alone might fit.
  const requested = minimumTokens < contextSize ? (maxTokens ?? 0) : 0;
  throw new ApiError(
    'LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED',
    `This model's maximum context length is ${contextSize} tokens, and the prompt is too long: it has at least ${minimumTokens} tokens` +
      (requested > 0 ? `, and ${requested} more were requested for the completion` : '') +
      ` with model '${model}'. Shorten the ${promptParam}${requested > 0 ? ' or lower max_tokens' : ''} (or raise context_size, up to the model's training context).`,
    promptParam,
  );
}

/** Lets the runtime thread run what waits (decode steps of other requests, their messages)
 *  before a tokenization that may take a while, then stops if the request was abandoned. */
export async function beforeTokenizing(signal: AbortSignal | undefined): Promise<void> {
  signal?.throwIfAborted();
  await yieldToEventLoop();
  signal?.throwIfAborted();
}
