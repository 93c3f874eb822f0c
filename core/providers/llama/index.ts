import {
  LlamaChat,
  LlamaCompletion,
  resolveChatWrapper,
  type ChatModelFunctions,
  type ChatWrapper,
  type LlamaChatResponseFunctionCall,
  type LlamaContextSequence,
  type LlamaGrammar,
  type LlamaModel,
  type Token,
  type TokenBias,
} from 'node-llama-cpp';
import { ApiError } from '../../errors/index.js';
import type { LlamaRuntime, LoadedModel, ModelManager } from '../../runtimes/index.js';
import { generationStream } from '../generationStream.js';
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Generation,
  GenerationEvent,
  Provider,
  ProviderModel,
} from '../types.js';
import { toChatHistory } from './chatHistory.js';
import { checkTokenIds, completionBudget, grammarFor, samplingOptions, tokenBiasFor, withValidUtf8Only } from './generationOptions.js';
import { beforeTokenizing, minimumTokenCount, refuseUnfittablePrompt } from './promptBound.js';
import { capSampledTokens, endOfGenerationToken } from './sampledTokenCap.js';
import { callTokenCount, forcedCallWrapper, functionOffer, toToolCall, type FunctionOffer } from './tools.js';

const chatWrappers = new WeakMap<LlamaModel, ChatWrapper>();

/** The model's own chat template from its GGUF metadata, or node-llama-cpp's best match for its
 *  architecture when it has none. */
function chatWrapperOf(model: LlamaModel): ChatWrapper {
  let wrapper = chatWrappers.get(model);
  if (!wrapper) {
    wrapper = resolveChatWrapper(model);
    chatWrappers.set(model, wrapper);
  }
  return wrapper;
}

function finishReasonOf(stopReason: string): 'stop' | 'length' {
  return stopReason === 'maxTokens' ? 'length' : 'stop';
}

/** What LlamaChat and LlamaCompletion report about how a generation ended. */
interface GenerationMetadata {
  stopReason: string;
  customStopTrigger?: readonly (string | Token)[];
}

/** A finished generation: how it ended, and the calls it stopped for (LlamaChat with functions). */
interface GenerationResult {
  metadata: GenerationMetadata;
  functionCalls?: LlamaChatResponseFunctionCall<ChatModelFunctions>[];
}

/** The stop sequence that ended a generation. The request's stop sequences are plain strings,
 *  so node-llama-cpp reports the matched one as a single string part. */
function stopSequenceOf(metadata: GenerationMetadata): string | undefined {
  if (metadata.stopReason !== 'customStopTrigger' || !metadata.customStopTrigger) return undefined;
  return metadata.customStopTrigger.filter((part): part is string => typeof part === 'string').join('');
}

/** Local GGUF models through node-llama-cpp. */
export class LlamaProvider implements Provider {
  readonly id = 'local';

  constructor(
    private readonly runtime: LlamaRuntime,
    private readonly models: ModelManager,
  ) {}

  listModels(): ProviderModel[] {
    return this.models.list().map((file) => ({ id: file.id, created: file.created, ownedBy: 'llmsvc' }));
  }


  async chat(request: ChatRequest): Promise<Generation> {
    const offer = functionOffer(request);
    const { loaded, history, chatWrapper, prompt } = await this.chatPrompt(request, offer, request.maxTokens, request.signal);
    const llama = await this.runtime.llama();
    const promptTokens = prompt.length;
    const maxTokens = completionBudget(promptTokens, request.maxTokens, loaded.contextSize, request.model, 'messages');
    const grammar = await grammarFor(llama, request.responseFormat);
    if (grammar && offer.functions) {
      // node-llama-cpp constrains a call's arguments with a grammar of its own and cannot combine the two.
      throw new ApiError(
        'LLMSVC_ERR_INVALID_PARAM',
        'response_format cannot be combined with tools for local models. Remove response_format, or set tool_choice to none.',
        'response_format',
      );
    }
    const requestBias = tokenBiasFor(loaded.model, request.model, request.sampling.logitBias);
    const tokenBias = grammar || offer.functions ? withValidUtf8Only(loaded.model, requestBias) : requestBias;
    const wrapper = offer.forced ? forcedCallWrapper(chatWrapper) : chatWrapper;
    const events = generateOnSequence(loaded, request, { prompt, maxTokens, grammar, tokenBias }, async (contextSequence, { grammar: responseGrammar, ...options }) => {
      const chat = new LlamaChat({ contextSequence, chatWrapper: wrapper, autoDisposeSequence: false });
      // The budget above guarantees the prompt and completion fit, so a context shift (which
      // would drop history silently) can never be needed.
      const contextShift = { strategy: () => failOnShift(request.model) };
      try {
        // No handlers are given with the functions: LlamaChat stops at the calls and returns them, for the client to run.
        return await chat.generateResponse(
          history,
          offer.functions
            ? { ...options, contextShift, functions: offer.functions, documentFunctionParams: true }
            : { ...options, contextShift, grammar: responseGrammar },
        );
      } finally {
        chat.dispose({ disposeSequence: false });
      }
    });
    return { promptTokens, maxTokens, events };
  }

  async complete(request: CompletionRequest): Promise<Generation> {
    const loaded = await this.models.get(request.model);
    const llama = await this.runtime.llama();
    if (typeof request.prompt === 'string') {
      refuseUnfittablePrompt(minimumTokenCount(loaded.model, request.prompt), request.maxTokens, loaded.contextSize, request.model, 'prompt');
      await beforeTokenizing(request.signal);
    }
    const promptTokens = completionPromptTokens(loaded, request.prompt);
    request.signal?.throwIfAborted();
    checkTokenIds(loaded.model, request.model, promptTokens, 'prompt');
    const maxTokens = completionBudget(promptTokens.length, request.maxTokens, loaded.contextSize, request.model, 'prompt');
    const grammar = await grammarFor(llama, request.responseFormat);
    const requestBias = tokenBiasFor(loaded.model, request.model, request.sampling.logitBias);
    const tokenBias = grammar ? withValidUtf8Only(loaded.model, requestBias) : requestBias;
    const events = generateOnSequence(loaded, request, { prompt: promptTokens, maxTokens, grammar, tokenBias }, async (contextSequence, options) => {
      const completion = new LlamaCompletion({ contextSequence, autoDisposeSequence: false });
      const cap = capSampledTokens(contextSequence, options.maxTokens, endOfGenerationToken(loaded.model));
      try {
        const result = await completion.generateCompletionWithMeta(promptTokens, { ...options, contextShiftSize: 0, disableContextShift: true });
        // Ended on the cap's end token: the caller's max_tokens were all generated.
        return cap.reached ? { ...result, metadata: { stopReason: 'maxTokens' } } : result;
      } finally {
        cap.release();
        completion.dispose({ disposeSequence: false });
      }
    });
    return { promptTokens: promptTokens.length, maxTokens, events };
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const loaded = await this.models.get(request.model);
    const vectors: number[][] = [];
    let promptTokens = 0;
    // Every input is measured against the bound first, so that a batch with one input that can
    // never fit is refused before any work is done on the others.
    request.inputs.forEach((input) => {
      if (typeof input === 'string') refuseUnembeddable(minimumTokenCount(loaded.model, input), loaded.contextSize, request.model, 'at least ');
    });
    // A group's worth of inputs at a time goes to the model's embedding queue, where it is
    // evaluated together with what other requests queued meanwhile (embedding_batch).
    const atOnce = loaded.embeddingInputsAtOnce;
    for (let start = 0; start < request.inputs.length; start += atOnce) {
      const part: Token[][] = [];
      for (const input of request.inputs.slice(start, start + atOnce)) {
        // Between inputs the thread serves other requests, and an abandoned request stops here.
        await beforeTokenizing(request.signal);
        const tokens = typeof input === 'string' ? loaded.model.tokenize(input) : (input as Token[]);
        checkTokenIds(loaded.model, request.model, tokens, 'input');
        if (tokens.length > loaded.contextSize) refuseUnembeddable(tokens.length, loaded.contextSize, request.model, '');
        promptTokens += tokens.length;
        part.push(tokens);
      }
      const embedded = await Promise.all(part.map((tokens) => loaded.embed(tokens, request.signal)));
      for (const vector of embedded) vectors.push([...vector]);
    }
    return { vectors, promptTokens };
  }

  async dispose(): Promise<void> {
    await this.models.dispose();
  }

  /** Tools count too: the template documents the offered functions in the prompt. */
  async countChatTokens(request: Pick<ChatRequest, 'model' | 'messages' | 'tools' | 'toolChoice' | 'signal'>): Promise<number> {
    return (await this.chatPrompt(request, functionOffer(request), undefined, request.signal)).prompt.length;
  }

  /** The chat history, its template and the exact tokens LlamaChat evaluates for it: one
   *  computation for chat() and countChatTokens(), so a count always matches the usage.
   *  A prompt that could never fit (with `maxTokens` for the completion) is refused before it is
   *  tokenized: see promptBound.ts. */
  private async chatPrompt(request: Pick<ChatRequest, 'model' | 'messages'>, offer: FunctionOffer, maxTokens: number | undefined, signal: AbortSignal | undefined) {
    const loaded = await this.models.get(request.model);
    const history = toChatHistory(request.messages);
    const chatWrapper = chatWrapperOf(loaded.model);
    const state = chatWrapper.generateContextState({ chatHistory: history, availableFunctions: offer.functions, documentFunctionParams: true });
    refuseUnfittablePrompt(minimumTokenCount(loaded.model, state.contextText), maxTokens, loaded.contextSize, request.model, 'messages');
    await beforeTokenizing(signal);
    const prompt = state.contextText.tokenize(loaded.model.tokenizer);
    signal?.throwIfAborted();
    return { loaded, history, chatWrapper, prompt };
  }
}

/** The options LlamaChat and LlamaCompletion share. */
interface SequenceGenerationOptions extends ReturnType<typeof samplingOptions> {
  grammar: LlamaGrammar | undefined;
  tokenBias: TokenBias | undefined;
  maxTokens: number;
  signal: AbortSignal;
  onTextChunk: (text: string) => void;
  onToken: (tokens: Token[]) => void;
}

/** Runs one generation on a sequence of the model's context (waiting for a free one) and
 *  streams its text, then its tool calls, as events; the completion tokens are counted as they
 *  are generated (a call's tokens when it is complete). */
function generateOnSequence(
  loaded: LoadedModel,
  request: ChatRequest | CompletionRequest,
  { prompt, ...limits }: { prompt: readonly Token[]; maxTokens: number; grammar: LlamaGrammar | undefined; tokenBias: TokenBias | undefined },
  generate: (sequence: LlamaContextSequence, options: SequenceGenerationOptions) => Promise<GenerationResult>,
): AsyncIterable<GenerationEvent> {
  return generationStream((emit, signal) => {
    const askedAt = performance.now();
    return loaded.withSequence(request.schedule ?? anonymousTicket, prompt, signal, async (sequence) => {
      // The wait for a sequence (the fair queue), reported with the end for the request's trace.
      const queuedMs = performance.now() - askedAt;
      let completionTokens = 0;
      let firstTokenAt: number | undefined;
      const result = await generate(sequence, {
        ...samplingOptions(request.sampling),
        ...limits,
        signal,
        onTextChunk: emit,
        onToken: (tokens) => {
          if (firstTokenAt === undefined) loaded.firstTokenOn(sequence);
          firstTokenAt ??= performance.now();
          completionTokens += tokens.length;
        },
      });
      // Stopped at max_tokens: that many were generated, even where the last ones released no text
      // (the bytes of an unfinished character, which node-llama-cpp holds back).
      const calls = result.functionCalls ?? [];
      if (calls.length === 0 && result.metadata.stopReason === 'maxTokens') completionTokens = limits.maxTokens;
      if (firstTokenAt !== undefined) loaded.recordDecodeSpeed(completionTokens - 1, (performance.now() - firstTokenAt) / 1000);
      for (const call of calls) {
        emit({ type: 'tool_call', call: toToolCall(call) });
        completionTokens += callTokenCount(call, loaded.model.tokenizer);
      }
      if (calls.length > 0) return { finishReason: 'tool_calls' as const, completionTokens, queuedMs };
      return { finishReason: finishReasonOf(result.metadata.stopReason), completionTokens, stopSequence: stopSequenceOf(result.metadata), queuedMs };
    });
  }, request.signal);
}

/** Requests that name no caller (in-process use) share one flow. */
const anonymousTicket = { caller: 'anonymous', priority: 'interactive' } as const;

/** The exact tokens LlamaCompletion evaluates: the prompt, after the BOS token where the model wants one. */
function completionPromptTokens(loaded: LoadedModel, prompt: string | number[]): Token[] {
  const tokens = typeof prompt === 'string' ? loaded.model.tokenize(prompt, false, 'trimLeadingSpace') : (prompt as Token[]);
  const bos = loaded.model.tokens.bos;
  if (loaded.model.tokens.shouldPrependBosToken && bos !== null && tokens[0] !== bos) return [bos, ...tokens];
  return tokens;
}

function refuseUnembeddable(tokens: number, contextSize: number, model: string, qualifier: 'at least ' | ''): void {
  if (tokens <= contextSize) return;
  throw new ApiError(
    'LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED',
    `An input has ${qualifier}${tokens} tokens, more than the ${contextSize} that model '${model}' embeds at once. Split the input into smaller pieces.`,
    'input',
  );
}

function failOnShift(model: string): never {
  throw new ApiError(
    'LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED',
    `The conversation no longer fits in the context of model '${model}'. Shorten the messages or lower max_tokens.`,
    'messages',
  );
}
