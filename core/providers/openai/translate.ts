import type OpenAI from 'openai';
import type { GenerationOutcome } from '../generationStream.js';
import type { ChatMessage, ChatRequest, CompletionRequest, FinishReason, ResponseFormat, SamplingOptions, ToolChoice } from '../types.js';

type MessageParam = OpenAI.Chat.Completions.ChatCompletionMessageParam;
type ChatParams = OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming;
type CompletionParams = OpenAI.Completions.CompletionCreateParamsStreaming;

/** Neutral message → OpenAI's. */
function toOpenAiMessage(message: ChatMessage): MessageParam {
  switch (message.role) {
    case 'system':
    case 'user':
      return { role: message.role, content: message.content };
    case 'assistant':
      return message.toolCalls?.length
        ? {
            role: 'assistant',
            content: message.content || null,
            tool_calls: message.toolCalls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } })),
          }
        : { role: 'assistant', content: message.content };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId, content: message.content };
  }
}

function toToolChoice(choice: ToolChoice | undefined): ChatParams['tool_choice'] {
  if (choice === undefined || typeof choice === 'string') return choice;
  return { type: 'function', function: { name: choice.name } };
}

function toResponseFormat(format: ResponseFormat | undefined): ChatParams['response_format'] {
  if (!format || format.type !== 'json_schema') return format;
  return { type: 'json_schema', json_schema: { name: 'response', schema: format.schema as Record<string, unknown> } };
}

/** Which field carries the completion budget: OpenAI's newer models take only
 *  max_completion_tokens; most OpenAI-compatible servers know only max_tokens. */
export type TokenLimitField = 'max_tokens' | 'max_completion_tokens';

/** Neutral sampling → the fields chat and legacy completions share; unset ones are left out.
 *  top_k has no OpenAI field and is dropped. */
function samplingParams(sampling: SamplingOptions): Pick<ChatParams, 'temperature' | 'top_p' | 'seed' | 'presence_penalty' | 'frequency_penalty' | 'stop' | 'logit_bias'> {
  const params: ReturnType<typeof samplingParams> = {};
  if (sampling.temperature !== undefined) params.temperature = sampling.temperature;
  if (sampling.topP !== undefined) params.top_p = sampling.topP;
  if (sampling.seed !== undefined) params.seed = sampling.seed;
  if (sampling.presencePenalty !== undefined) params.presence_penalty = sampling.presencePenalty;
  if (sampling.frequencyPenalty !== undefined) params.frequency_penalty = sampling.frequencyPenalty;
  if (sampling.stop?.length) params.stop = sampling.stop;
  if (sampling.logitBias) params.logit_bias = { ...sampling.logitBias };
  return params;
}

/** Neutral legacy completion request → OpenAI's streaming one, asking for usage in the last chunk. */
export function toCompletionParams(request: CompletionRequest): CompletionParams {
  return {
    model: request.model,
    prompt: request.prompt,
    stream: true,
    stream_options: { include_usage: true },
    ...(request.maxTokens === undefined ? {} : { max_tokens: request.maxTokens }),
    ...samplingParams(request.sampling),
  };
}

/** Neutral chat request → OpenAI's streaming request, always asking for usage in the last chunk. */
export function toChatParams(request: ChatRequest, upstreamModel: string, tokenLimitField: TokenLimitField): ChatParams {
  const params: ChatParams = {
    model: upstreamModel,
    messages: request.messages.map(toOpenAiMessage),
    stream: true,
    stream_options: { include_usage: true },
    ...samplingParams(request.sampling),
  };
  if (request.maxTokens !== undefined) params[tokenLimitField] = request.maxTokens;
  const responseFormat = toResponseFormat(request.responseFormat);
  if (responseFormat) params.response_format = responseFormat;
  if (request.tools?.length) {
    params.tools = request.tools.map((tool) => ({
      type: 'function',
      function: { name: tool.name, ...(tool.description === undefined ? {} : { description: tool.description }), parameters: tool.parameters as Record<string, unknown> },
    }));
    const toolChoice = toToolChoice(request.toolChoice);
    if (toolChoice) params.tool_choice = toolChoice;
  }
  return params;
}

/** OpenAI's finish_reason → llmsvc's. content_filter has no neutral twin: the text simply ended. */
export const finishReasons = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'stop',
} as const satisfies Record<string, FinishReason>;

export function finishReasonOf(reason: string | null | undefined): FinishReason {
  return (finishReasons as Record<string, FinishReason>)[reason ?? 'stop'] ?? 'stop';
}

/** How an OpenAI-style answer ended, from its finish_reason and usage: without usage (a server
 *  that ignores stream_options) the caller's estimate stands for the completion tokens. */
export function outcomeOf(
  reason: string | null | undefined,
  usage: { completion_tokens?: number; prompt_tokens?: number } | null | undefined,
  completionEstimate: number,
): GenerationOutcome {
  const outcome: GenerationOutcome = { finishReason: finishReasonOf(reason), completionTokens: usage?.completion_tokens ?? completionEstimate };
  if (usage?.prompt_tokens !== undefined) outcome.promptTokens = usage.prompt_tokens;
  return outcome;
}
