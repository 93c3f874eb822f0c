import Anthropic from '@anthropic-ai/sdk';
import { generationStream } from '../generationStream.js';
import { unsupported } from '../openai/index.js';
import { estimateChatTokens } from '../upstream/estimate.js';
import { upstreamErrorFrom } from '../upstream/errors.js';
import { UpstreamTransport } from '../upstream/transport.js';
import { listedModels, sdkClientOptions, traceHeaders, type UpstreamProviderOptions } from '../upstream/options.js';
import type { ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, FinishReason, Generation, Provider, ProviderModel, TokenCountRequest } from '../types.js';
import { finishReasonOf, toAnthropicMessages, toAnthropicTools, toMessageParams } from './translate.js';

/** A tool_use block being assembled from its input_json_delta events. */
interface PartialToolUse {
  id: string;
  name: string;
  json: string;
}

/** Anthropic's Messages API (or anything that speaks it, such as another llmsvc's /v1/messages)
 *  through the official `@anthropic-ai/sdk`. Always streams from the upstream, like OpenAiProvider,
 *  with the SDK's retries off. */
export class AnthropicProvider implements Provider {
  readonly id: string;
  private readonly client: Anthropic;
  private readonly transport: UpstreamTransport;

  constructor(private readonly options: UpstreamProviderOptions) {
    this.id = options.id;
    this.transport = new UpstreamTransport(options.connectTimeoutMs);
    this.client = new Anthropic({
      ...sdkClientOptions(options, this.transport),
      ...(options.baseUrl ? { baseURL: options.baseUrl } : {}),
    });
  }

  listModels(): ProviderModel[] {
    return listedModels(this.options);
  }

  async chat(request: ChatRequest): Promise<Generation> {
    const params = toMessageParams(request, request.model, this.options.defaultMaxTokens);
    return {
      promptTokens: estimateChatTokens(request.messages, request.tools),
      maxTokens: params.max_tokens,
      events: generationStream(async (emit, signal) => {
        try {
          const stream = await this.client.messages.create(params, { signal, headers: traceHeaders(request) });
          const blocks = new Map<number, PartialToolUse>();
          let finishReason: FinishReason = 'stop';
          let stopSequence: string | undefined;
          let promptTokens: number | undefined;
          let completionTokens = 0;
          for await (const event of stream) {
            switch (event.type) {
              case 'message_start':
                promptTokens = event.message.usage.input_tokens;
                break;
              case 'content_block_start':
                if (event.content_block.type === 'tool_use') blocks.set(event.index, { id: event.content_block.id, name: event.content_block.name, json: '' });
                break;
              case 'content_block_delta':
                if (event.delta.type === 'text_delta') emit(event.delta.text);
                else if (event.delta.type === 'input_json_delta') {
                  const block = blocks.get(event.index);
                  if (block) block.json += event.delta.partial_json;
                }
                break;
              case 'content_block_stop': {
                const block = blocks.get(event.index);
                if (block) emit({ type: 'tool_call', call: { id: block.id, name: block.name, arguments: block.json || '{}' } });
                break;
              }
              case 'message_delta':
                finishReason = finishReasonOf(event.delta.stop_reason);
                stopSequence = event.delta.stop_sequence ?? undefined;
                completionTokens = event.usage.output_tokens;
                break;
            }
          }
          return { finishReason, completionTokens, promptTokens, ...(stopSequence ? { stopSequence } : {}) };
        } catch (error) {
          throw upstreamErrorFrom(this.id, error, signal);
        }
      }, request.signal),
    };
  }

  complete(request: CompletionRequest): Promise<Generation> {
    unsupported(this.id, request.model, 'legacy text completions (/v1/completions); use /v1/chat/completions');
  }

  embed(request: EmbeddingRequest): Promise<EmbeddingResult> {
    unsupported(this.id, request.model, 'embeddings');
  }

  /** Anthropic counts exactly, through its count_tokens endpoint. */
  async countChatTokens(request: TokenCountRequest): Promise<number> {
    try {
      const tools = request.tools?.length ? { tools: toAnthropicTools(request.tools) } : {};
      const result = await this.client.messages.countTokens({ model: request.model, ...toAnthropicMessages(request.messages), ...tools });
      return result.input_tokens;
    } catch (error) {
      throw upstreamErrorFrom(this.id, error);
    }
  }

  dispose(): Promise<void> {
    return this.transport.dispose();
  }
}
