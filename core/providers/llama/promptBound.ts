import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { LlamaModel, LlamaText } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';

// llama.cpp's tokenizer is quadratic on long runs of characters it has no token for (1,048,576
// × "😀" took 75 s), and it runs synchronously on the runtime thread, where every model decodes.
// A text is therefore first measured against a lower bound on its token count that costs one
// pass over its bytes: no token stands for more than L bytes of text, so a text of B bytes needs
// at least ceil(B / L) tokens (tighter by character class: see byteWeights). What can never fit
// is refused without tokenizing it, so what is tokenized is bounded by the context's size.

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

/** Per UTF-8 byte, by the length (1-4 bytes) of the character it belongs to: the share of a token
 *  it is sure to take. Index 0 is unused. */
type ByteWeights = readonly [0, number, number, number, number];

/** Bytes of `text` by the UTF-8 length of their character; a lone surrogate is written as U+FFFD (3 bytes). */
function bytesByCharLength(text: string, into: number[] = [0, 0, 0, 0, 0]): number[] {
  let [, one, two, three, four] = into as [number, number, number, number, number];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) one++;
    else if (unit < 0x800) two += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      four += 4; // a surrogate pair: one 4-byte character
      i++;
    } else three += 3;
  }
  into[1] = one;
  into[2] = two;
  into[3] = three;
  into[4] = four;
  return into;
}

const weightsByModel = new WeakMap<LlamaModel, ByteWeights | null>();

/** Weights w[k] such that every token of the vocabulary has Σ (its bytes of k-byte characters) ×
 *  w[k] ≤ 1: then any text needs at least Σ B[k] × w[k] tokens. 1/L for every byte is such a
 *  choice; for SentencePiece (whose tokens are whole characters, or single bytes) the rarer
 *  classes are then raised as far as every token allows, 4-byte characters first. Emoji have
 *  (almost) no tokens of their own, so they weigh close to a token per byte, as they tokenize: a
 *  text of emoji is bounded near its real count, not 27 times below it. */
function byteWeights(model: LlamaModel): ByteWeights | null {
  let cached = weightsByModel.get(model);
  if (cached !== undefined) return cached;
  const perToken = maxTokenBytes(model);
  const tokenizer = model.fileInfo.metadata.tokenizer.ggml as { model?: string; tokens?: readonly string[]; token_type?: readonly number[] };
  if (perToken === null) {
    cached = null;
  } else if (tokenizer.model !== 'llama') {
    cached = [0, 1 / perToken, 1 / perToken, 1 / perToken, 1 / perToken];
  } else {
    const tokens = tokenizer.tokens ?? [];
    const types = tokenizer.token_type ?? [];
    // Tokens made of characters (byte tokens cover one byte: a weight never exceeds 1 anyway).
    const counts = tokens.flatMap((text, index) => {
      const type = types[index] ?? normalTokenType;
      if (type === byteTokenType) return [];
      return [bytesByCharLength(type === normalTokenType ? text.replaceAll('\u2581', ' ') : text)];
    });
    const byteTokens = types.filter((type) => type === byteTokenType).length;
    const weights: [0, number, number, number, number] = [0, 1 / perToken, 1 / perToken, 1 / perToken, 1 / perToken];
    for (const k of [4, 3, 2] as const) {
      // Without all 256 byte tokens, an unknown token might stand for one whole k-byte character.
      let weight = byteTokens >= 256 ? 1 : 1 / k;
      for (const count of counts) {
        if (count[k] === 0) continue;
        let others = 0;
        for (const j of [1, 2, 3, 4] as const) if (j !== k) others += count[j]! * weights[j];
        weight = Math.min(weight, (1 - others) / count[k]!);
      }
      weights[k] = Math.max(weights[k], weight);
    }
    cached = weights;
  }
  weightsByModel.set(model, cached);
  return cached;
}

/** A count the text's tokens cannot be below (0 when the model's tokenizer allows no bound).
 *  For a LlamaText, only its plain strings count: special tokens are tokens of their own. */
export function minimumTokenCount(model: LlamaModel, text: string | LlamaText): number {
  const weights = byteWeights(model);
  if (weights === null) return 0;
  const strings = typeof text === 'string' ? [text] : text.values.filter((value): value is string => typeof value === 'string');
  // Adjacent strings are tokenized together, so one sum over them all is the sound bound.
  const bytes = [0, 0, 0, 0, 0];
  for (const value of strings) bytesByCharLength(value, bytes);
  const tokens = bytes[1]! * weights[1] + bytes[2]! * weights[2] + bytes[3]! * weights[3] + bytes[4]! * weights[4];
  return Math.max(0, Math.ceil(tokens - 1e-9));
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
