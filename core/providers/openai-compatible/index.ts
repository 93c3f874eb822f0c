import { generationStream, type Emit, type GenerationOutcome } from '../generationStream.js';
import { outcomeOf, toChatParams, toCompletionParams } from '../openai/translate.js';
import { embeddingResultOf, estimateChatTokens, estimatePromptTokens, estimateTextTokens } from '../upstream/estimate.js';
import { upstreamErrorFrom } from '../upstream/errors.js';
import { UpstreamHttp, UpstreamStreamError } from '../upstream/http.js';
import { listedModels, type UpstreamProviderOptions } from '../upstream/options.js';
import { SseDataDecoder } from '../upstream/sse.js';
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Generation,
  Provider,
  ProviderModel,
  TokenCountRequest,
} from '../types.js';

/** The parts of OpenAI's answers this provider reads. */
interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
}
interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string | null; arguments?: string | null };
}
interface StreamChunk {
  choices?: { text?: string | null; delta?: { content?: string | null; tool_calls?: ToolCallDelta[] | null } | null; finish_reason?: string | null }[];
  usage?: Usage | null;
  error?: unknown;
}
interface ChatCompletion {
  choices?: {
    message?: { content?: string | null; tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[] | null };
    finish_reason?: string | null;
  }[];
  usage?: Usage | null;
}
interface Completion {
  choices?: { text?: string | null; finish_reason?: string | null }[];
  usage?: Usage | null;
}
interface Embeddings {
  data: { index: number; embedding: number[] }[];
  usage?: Usage | null;
}

/** A streamed tool call being assembled from its deltas, by index. */
interface PartialToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A streaming request's params without its stream fields: the upstream answers in one piece. */
function oneAnswer<P extends { stream?: unknown; stream_options?: unknown }>(params: P): Omit<P, 'stream' | 'stream_options'> {
  const { stream: _stream, stream_options: _options, ...rest } = params;
  return rest;
}

/** Whether to ask the upstream for a stream: unless the client asked for one answer at the end. */
function streamsUpstream(request: ChatRequest | CompletionRequest): boolean {
  return request.stream !== false;
}

/** Any server that speaks OpenAI's API (vLLM, Ollama, llama-server, LM Studio, another llmsvc),
 *  through llmsvc's own lean HTTP client (upstream/http.ts: undici's Pool and dispatch, SSE read
 *  straight from the socket's Buffers) rather than the openai SDK, whose fetch, web streams and
 *  per-request objects cost about 1 ms of CPU a request. Requests are translated as for OpenAI
 *  (openai/translate.ts), with the completion budget in max_tokens, the field these servers know.
 *
 *  A streamed request streams from the upstream, so the resilience layer's first-byte and idle
 *  timeouts apply to every token. A request marked `stream: false` gets one JSON answer from the
 *  upstream, as a gateway is expected to pass the flag on (one JSON.parse instead of one per
 *  token); the whole-answer timeout then bounds it. */
export class OpenAiCompatibleProvider implements Provider {
  readonly id: string;
  readonly answersWhole = true;
  private readonly http: UpstreamHttp;

  constructor(private readonly options: UpstreamProviderOptions & { baseUrl: string }) {
    this.id = options.id;
    const apiKey = options.apiKey?.reveal();
    this.http = new UpstreamHttp({
      baseUrl: options.baseUrl,
      ...(apiKey === undefined ? {} : { apiKey }),
      connectTimeoutMs: options.connectTimeoutMs,
      headersTimeoutMs: options.requestTimeoutMs,
    });
  }

  listModels(): ProviderModel[] {
    return listedModels(this.options);
  }

  async chat(request: ChatRequest): Promise<Generation> {
    const params = toChatParams(request, request.model, 'max_tokens');
    const estimate = estimateChatTokens(request.messages, request.tools);
    if (!streamsUpstream(request)) {
      return this.generation(estimate, request, async (emit, signal) => {
        const answer = (await this.http.postJson('/chat/completions', JSON.stringify(oneAnswer(params)), signal, request.traceparent)) as ChatCompletion;
        const choice = answer.choices?.[0];
        const text = choice?.message?.content ?? '';
        if (text) emit(text);
        for (const call of choice?.message?.tool_calls ?? []) {
          emit({ type: 'tool_call', call: { id: call.id ?? '', name: call.function?.name ?? '', arguments: call.function?.arguments || '{}' } });
        }
        return outcomeOf(choice?.finish_reason, answer.usage, estimateTextTokens(text));
      });
    }
    const body = JSON.stringify(params);
    return this.generation(estimate, request, async (emit, signal) => {
      const toolCalls: PartialToolCall[] = [];
      let finishReason: string | null | undefined;
      let usage: Usage | undefined;
      let textChunks = 0;
      await this.stream('/chat/completions', body, signal, request.traceparent, (chunk: StreamChunk) => {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) return;
        const delta = choice.delta;
        if (delta) {
          if (delta.content) {
            textChunks++;
            emit(delta.content);
          }
          if (delta.tool_calls) {
            for (const part of delta.tool_calls) {
              const call = (toolCalls[part.index ?? 0] ??= { id: '', name: '', arguments: '' });
              if (part.id) call.id = part.id;
              if (part.function?.name) call.name += part.function.name;
              if (part.function?.arguments) call.arguments += part.function.arguments;
            }
          }
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      });
      for (const call of toolCalls) if (call) emit({ type: 'tool_call', call: { ...call, arguments: call.arguments || '{}' } });
      // Without usage (a server that ignores stream_options), each content chunk is about one token.
      return outcomeOf(finishReason, usage, textChunks);
    });
  }

  async complete(request: CompletionRequest): Promise<Generation> {
    const streamed = streamsUpstream(request);
    const params = toCompletionParams(request);
    const body = JSON.stringify(streamed ? params : oneAnswer(params));
    const estimate = estimatePromptTokens(request.prompt);
    if (!streamed) {
      return this.generation(estimate, request, async (emit, signal) => {
        const answer = (await this.http.postJson('/completions', body, signal, request.traceparent)) as Completion;
        const choice = answer.choices?.[0];
        const text = choice?.text ?? '';
        if (text) emit(text);
        return outcomeOf(choice?.finish_reason, answer.usage, estimateTextTokens(text));
      });
    }
    return this.generation(estimate, request, async (emit, signal) => {
      let finishReason: string | null | undefined;
      let usage: Usage | undefined;
      let textChunks = 0;
      await this.stream('/completions', body, signal, request.traceparent, (chunk: StreamChunk) => {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice) return;
        if (choice.text) {
          textChunks++;
          emit(choice.text);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      });
      return outcomeOf(finishReason, usage, textChunks);
    });
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    const body = JSON.stringify({ model: request.model, input: request.inputs, encoding_format: 'float' });
    try {
      return embeddingResultOf((await this.http.postJson('/embeddings', body, request.signal)) as Embeddings);
    } catch (error) {
      throw upstreamErrorFrom(this.id, error, request.signal);
    }
  }

  /** No token-counting endpoint in OpenAI's API: an estimate (see estimateChatTokens). */
  async countChatTokens(request: TokenCountRequest): Promise<number> {
    return estimateChatTokens(request.messages, request.tools);
  }

  dispose(): Promise<void> {
    return this.http.dispose();
  }

  /** POSTs a streaming request and calls `onChunk` with each parsed SSE chunk until `[DONE]` or
   *  the end of the body. A chunk carrying `error` fails the call, as the openai SDK does. */
  private async stream(path: string, body: string, signal: AbortSignal, traceparent: string | undefined, onChunk: (chunk: StreamChunk) => void): Promise<void> {
    let done = false;
    const decoder = new SseDataDecoder((data) => {
      if (done) return;
      if (data.startsWith('[DONE]')) {
        done = true;
        return;
      }
      const chunk = JSON.parse(data) as StreamChunk;
      if (chunk.error) throw new UpstreamStreamError(messageOf(chunk.error));
      onChunk(chunk);
    });
    await this.http.post(path, body, signal, (bytes) => decoder.push(bytes), traceparent);
    decoder.end();
  }

  /** A Generation over one upstream call; its failures become UpstreamErrors as they surface. */
  private generation(
    promptEstimate: number,
    request: ChatRequest | CompletionRequest,
    run: (emit: Emit, signal: AbortSignal) => Promise<GenerationOutcome>,
  ): Generation {
    return {
      promptTokens: promptEstimate,
      maxTokens: request.maxTokens ?? this.options.defaultMaxTokens,
      events: generationStream(async (emit, signal) => {
        try {
          return await run(emit, signal);
        } catch (error) {
          throw upstreamErrorFrom(this.id, error, signal);
        }
      }, request.signal),
    };
  }
}

/** An in-stream error's sentence, as the openai SDK words it. */
function messageOf(error: unknown): string {
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && message) return message;
  if (message !== undefined && message !== null && message !== '') return JSON.stringify(message);
  return JSON.stringify(error);
}

/** Any server that speaks OpenAI's API; the base URL is required. */
export function createOpenAiCompatibleProvider(options: UpstreamProviderOptions & { baseUrl: string }): Provider {
  return new OpenAiCompatibleProvider(options);
}
