import { randomInt } from 'node:crypto';
import { TokenBias, type Llama, type LlamaGrammar, type LlamaModel, type LLamaContextualRepeatPenalty, type Token } from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { ResponseFormat, SamplingOptions } from '../types.js';
import { enumerateIntegerRanges } from './integerRanges.js';

/** node-llama-cpp's sampling options from OpenAI's. OpenAI's defaults differ from
 *  node-llama-cpp's (temperature 1, not 0; no repeat penalty), so they are set explicitly. */
export function samplingOptions(sampling: SamplingOptions) {
  const presencePenalty = sampling.presencePenalty ?? 0;
  const frequencyPenalty = sampling.frequencyPenalty ?? 0;
  const repeatPenalty: false | LLamaContextualRepeatPenalty =
    presencePenalty === 0 && frequencyPenalty === 0 ? false : { penalty: 1, presencePenalty, frequencyPenalty, penalizeNewLine: true };
  return {
    temperature: sampling.temperature ?? 1,
    topP: sampling.topP ?? 1,
    topK: sampling.topK,
    // node-llama-cpp's default seed is fixed; OpenAI varies answers unless a seed is given.
    seed: sampling.seed ?? randomInt(2 ** 31),
    repeatPenalty,
    customStopTriggers: sampling.stop?.filter((stop) => stop.length > 0),
  };
}

/** How many tokens the model's vocabulary holds (the token list of its GGUF tokenizer). */
function vocabularySize(model: LlamaModel): number {
  return model.fileInfo.metadata.tokenizer.ggml.tokens.length;
}

/** Refuses token ids the model does not have: llama.cpp would fail the whole decode ("Eval has
 *  failed") or read out of bounds, where the client deserves a 400 that names the id. */
export function checkTokenIds(model: LlamaModel, modelId: string, tokens: Iterable<number>, param: string): void {
  const size = vocabularySize(model);
  for (const token of tokens) {
    if (token >= size) {
      throw new ApiError(
        'LLMSVC_ERR_INVALID_PARAM',
        `Token id ${token} is not in the vocabulary of model '${modelId}', which has ${size} tokens (ids 0 to ${size - 1}). Use token ids of this model's own tokenizer.`,
        param,
      );
    }
  }
}

/** OpenAI's logit_bias as node-llama-cpp's TokenBias: each value is added to the token's logit
 *  before sampling, as OpenAI does. node-llama-cpp ignores biases on end-of-generation tokens,
 *  so those are refused rather than silently dropped. */
export function tokenBiasFor(model: LlamaModel, modelId: string, logitBias: Readonly<Record<number, number>> | undefined): TokenBias | undefined {
  if (!logitBias) return undefined;
  const tokens = Object.keys(logitBias).map(Number);
  checkTokenIds(model, modelId, tokens, 'logit_bias');
  const bias = new TokenBias(model.tokenizer);
  for (const token of tokens) {
    if (model.isEogToken(token as Token)) {
      throw new ApiError(
        'LLMSVC_ERR_INVALID_PARAM',
        `logit_bias cannot change token ${token}: it ends generation in model '${modelId}', and local models do not bias it. Control the length with max_tokens or stop instead.`,
        'logit_bias',
      );
    }
    bias.set(token as Token, { logit: logitBias[token]! });
  }
  return bias;
}

/** The byte-fallback tokens (SentencePiece's "<0xC0>", type 6) of bytes that never occur in valid
 *  UTF-8: C0 and C1 (overlong) and F5-FF. llama.cpp's grammar decodes such a byte with the bytes
 *  after it as one character, so a JSON string could hold one that the text decoder then turns
 *  into several U+FFFD, past the schema's maxLength (and under a random model it did). Banning
 *  them loses nothing: no text needs them. */
function invalidUtf8ByteTokens(model: LlamaModel): Token[] {
  const { tokens, token_type: types } = model.fileInfo.metadata.tokenizer.ggml as { tokens: readonly string[]; token_type?: readonly number[] };
  const banned: Token[] = [];
  tokens.forEach((text, index) => {
    if (types?.[index] !== 6) return;
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(text)?.[1];
    if (byte === undefined) return;
    const value = Number.parseInt(byte, 16);
    if (value === 0xc0 || value === 0xc1 || value >= 0xf5) banned.push(index as Token);
  });
  return banned;
}

/** The request's bias, plus a ban on bytes that cannot be part of valid UTF-8 when the output is
 *  constrained to JSON (a json_schema grammar or tool-call arguments). */
export function withValidUtf8Only(model: LlamaModel, bias: TokenBias | undefined): TokenBias {
  const result = bias ?? new TokenBias(model.tokenizer);
  for (const token of invalidUtf8ByteTokens(model)) result.set(token, 'never');
  return result;
}

/** The grammar that constrains output to the requested JSON shape, if any. */
export async function grammarFor(llama: Llama, format: ResponseFormat | undefined): Promise<LlamaGrammar | undefined> {
  if (!format || format.type === 'text') return undefined;
  if (format.type === 'json_object') return llama.getGrammarFor('json');
  try {
    return await llama.createGrammarForJsonSchema(enumerateIntegerRanges(format.schema) as Parameters<Llama['createGrammarForJsonSchema']>[0]);
  } catch (error) {
    throw new ApiError(
      'LLMSVC_ERR_INVALID_PARAM',
      `response_format.json_schema.schema cannot be turned into a grammar: ${(error as Error).message}. Use a JSON schema of objects, arrays, strings, numbers, booleans, enums and const values.`,
      'response_format',
    );
  }
}

/** The number of tokens to generate, refusing (never silently truncating) a prompt that does not
 *  fit. Matches OpenAI: the prompt plus max_tokens must fit in the context. */
export function completionBudget(
  promptTokens: number,
  maxTokens: number | undefined,
  contextSize: number,
  model: string,
  promptParam: 'messages' | 'prompt',
): number {
  const requested = maxTokens ?? 0;
  if (promptTokens >= contextSize) {
    // "prompt is too long" is also Anthropic's wording, which its clients look for.
    throw new ApiError(
      'LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED',
      `This model's maximum context length is ${contextSize} tokens, and the prompt is too long: its ${promptTokens} tokens leave no room ` +
        `for a completion with model '${model}'. Shorten the ${promptParam} (or raise context_size, up to the model's training context).`,
      promptParam,
    );
  }
  if (promptTokens + requested > contextSize) {
    throw new ApiError(
      'LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED',
      `This model's maximum context length is ${contextSize} tokens. However, you requested ${promptTokens + requested} tokens ` +
        `(${promptTokens} in the prompt, ${requested} for the completion) with model '${model}'. Shorten the prompt or lower max_tokens` +
        ` (or raise context_size, up to the model's training context).`,
      promptParam,
    );
  }
  return maxTokens ?? contextSize - promptTokens;
}
