import OpenAI from 'openai';
import { ApiError } from '../../errors/index.js';
import { generationStream, type GenerationOutcome } from '../generationStream.js';
import { embeddingResultOf, estimateChatTokens, estimatePromptTokens } from '../upstream/estimate.js';
import { upstreamErrorFrom } from '../upstream/errors.js';
import { UpstreamTransport } from '../upstream/transport.js';
import { listedModels, sdkClientOptions, traceHeaders, type UpstreamProviderOptions } from '../upstream/options.js';
import type {
  ChatRequest,
  CompletionRequest,
  EmbeddingRequest,
  EmbeddingResult,
  Generation,
  Provider,
  ProviderModel,
  ToolCall,
  TokenCountRequest,
} from '../types.js';
import { outcomeOf, toChatParams, toCompletionParams, type TokenLimitField } from './translate.js';

/** A streamed tool call being assembled from its deltas, by index. */
interface PartialToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** OpenAI's API, or any server that speaks it (vLLM, Ollama, llama-server, another llmsvc),
 *  through the official `openai` SDK. Every call streams from the upstream, also when the
 *  client asked for one JSON answer: then the first-byte and idle timeouts of the resilience
 *  layer apply the same way, and the answer is assembled by the front as for a local model.
 *  The SDK's own retries are off: core/routing retries, with backoff, across targets. */
export class OpenAiProvider implements Provider {
  readonly id: string;
  private readonly client: OpenAI;
  private readonly transport: UpstreamTransport;
  private readonly tokenLimitField: TokenLimitField;

  constructor(private readonly options: UpstreamProviderOptions & { tokenLimitField?: TokenLimitField }) {
    this.id = options.id;
    this.tokenLimitField = options.tokenLimitField ?? 'max_completion_tokens';
    this.transport = new UpstreamTransport(options.connectTimeoutMs);
    this.client = new OpenAI({
      ...sdkClientOptions(options, this.transport),
      baseURL: options.baseUrl,
    });
  }

  listModels(): ProviderModel[] {
    return listedModels(this.options);
  }

  async chat(request: ChatRequest): Promise<Generation> {
    const params = toChatParams(request, request.model, this.tokenLimitField);
    return this.streamed(estimateChatTokens(request.messages, request.tools), request.maxTokens, request.signal, async (signal, emitText, emitToolCall) => {
      const stream = await this.client.chat.completions.create(params, { signal, headers: traceHeaders(request) });
      const toolCalls: PartialToolCall[] = [];
      let finishReason: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      let textChunks = 0;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.delta?.content) {
          textChunks++;
          emitText(choice.delta.content);
        }
        for (const delta of choice.delta?.tool_calls ?? []) {
          const call = (toolCalls[delta.index] ??= { id: '', name: '', arguments: '' });
          if (delta.id) call.id = delta.id;
          if (delta.function?.name) call.name += delta.function.name;
          if (delta.function?.arguments) call.arguments += delta.function.arguments;
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      for (const call of toolCalls) if (call) emitToolCall({ ...call, arguments: call.arguments || '{}' });
      // Without usage (a server that ignores stream_options), each content chunk is about one token.
      return outcomeOf(finishReason, usage, textChunks);
    });
  }

  async complete(request: CompletionRequest): Promise<Generation> {
    const estimate = estimatePromptTokens(request.prompt);
    return this.streamed(estimate, request.maxTokens, request.signal, async (signal, emitText) => {
      const stream = await this.client.completions.create(toCompletionParams(request), { signal, headers: traceHeaders(request) });
      let finishReason: string | null | undefined;
      let usage: OpenAI.CompletionUsage | undefined;
      let textChunks = 0;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices[0];
        if (!choice) continue;
        if (choice.text) {
          textChunks++;
          emitText(choice.text);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
      return outcomeOf(finishReason, usage, textChunks);
    });
  }

  async embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    try {
      const response = await this.client.embeddings.create(
        { model: request.model, input: request.inputs as string[] | number[][], encoding_format: 'float' },
        { signal: request.signal },
      );
      return embeddingResultOf(response);
    } catch (error) {
      throw upstreamErrorFrom(this.id, error, request.signal);
    }
  }

  /** OpenAI has no token-counting endpoint: an estimate (see estimateChatTokens). */
  async countChatTokens(request: TokenCountRequest): Promise<number> {
    return estimateChatTokens(request.messages, request.tools);
  }

  dispose(): Promise<void> {
    return this.transport.dispose();
  }

  /** A Generation over one upstream stream; SDK errors become UpstreamErrors as they surface. */
  private async streamed(
    promptEstimate: number,
    maxTokens: number | undefined,
    outerSignal: AbortSignal | undefined,
    run: (
      signal: AbortSignal,
      emitText: (text: string) => void,
      emitToolCall: (call: ToolCall) => void,
    ) => Promise<GenerationOutcome>,
  ): Promise<Generation> {
    return {
      promptTokens: promptEstimate,
      maxTokens: maxTokens ?? this.options.defaultMaxTokens,
      events: generationStream(async (emit, signal) => {
        try {
          return await run(signal, (text) => emit(text), (call) => emit({ type: 'tool_call', call }));
        } catch (error) {
          throw upstreamErrorFrom(this.id, error, signal);
        }
      }, outerSignal),
    };
  }
}

export function unsupported(providerId: string, model: string, what: string): never {
  throw new ApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', `Model "${model}" (provider "${providerId}") does not support ${what}; use a model that does.`, 'model');
}
