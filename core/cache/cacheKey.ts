import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest, CompletionRequest, SamplingOptions } from '../providers/types.js';
import { canonicalJson } from './canonicalJson.js';

export type CacheableRequest = ChatRequest | CompletionRequest;

/** Bump when the key's shape or the stored entry's shape changes: old entries then simply miss. */
const keyVersion = 1;

export interface CacheKeyOptions {
  /** The model id after routing (default: the request's model), so aliases share entries. */
  model?: string;
  /** A partition of the cache (e.g. one per tenant); requests in different scopes never share. */
  scope?: string;
}

/** Same answer expected for the same request: greedy sampling, or a fixed seed. */
export function isDeterministic(request: CacheableRequest): boolean {
  return request.sampling.temperature === 0 || request.sampling.seed !== undefined;
}

/** SHA-256 (hex) of everything that shapes the answer, and nothing else: not the stream flag
 *  (a streamed and a non-streamed request share an entry), not who asks (schedule), not the
 *  abort signal. Settings equal to their defaults are dropped, so leaving one out and sending
 *  its default give the same key. */
export function cacheKey(request: CacheableRequest, options: CacheKeyOptions = {}): string {
  const shape = {
    v: keyVersion,
    scope: options.scope,
    model: options.model ?? request.model,
    ...('messages' in request ? chatShape(request) : { prompt: request.prompt }),
    maxTokens: request.maxTokens,
    sampling: samplingShape(request.sampling),
    responseFormat: request.responseFormat?.type === 'text' ? undefined : request.responseFormat,
  };
  return createHash('sha256').update(canonicalJson(shape)).digest('hex');
}

function chatShape(request: ChatRequest) {
  const tools = request.tools?.length ? request.tools : undefined;
  return {
    messages: request.messages.map(messageShape),
    tools,
    toolChoice: tools && request.toolChoice !== 'auto' ? request.toolChoice : undefined,
  };
}

function messageShape(message: ChatMessage) {
  if (message.role === 'assistant' && !message.toolCalls?.length) return { role: message.role, content: message.content };
  return message;
}

/** The neutral defaults of OpenAI's API; temperature has none here, as local and cloud models
 *  differ on it. Stop sequences are a set: their order and repeats do not matter. */
function samplingShape(sampling: SamplingOptions) {
  const stop = sampling.stop?.length ? [...new Set(sampling.stop)].sort() : undefined;
  return {
    temperature: sampling.temperature,
    topP: sampling.topP === 1 ? undefined : sampling.topP,
    topK: sampling.topK,
    seed: sampling.seed,
    presencePenalty: sampling.presencePenalty === 0 ? undefined : sampling.presencePenalty,
    frequencyPenalty: sampling.frequencyPenalty === 0 ? undefined : sampling.frequencyPenalty,
    stop,
    logitBias: sampling.logitBias,
  };
}
