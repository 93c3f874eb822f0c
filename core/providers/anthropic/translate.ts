import type Anthropic from '@anthropic-ai/sdk';
import { ApiError } from '../../errors/index.js';
import type { ChatMessage, ChatRequest, FinishReason, ToolChoice, ToolDefinition } from '../types.js';

type MessageParam = Anthropic.MessageParam;
type ContentBlock = Exclude<MessageParam['content'], string>[number];
type Params = Anthropic.MessageCreateParamsStreaming;

function parseArguments(text: string): Record<string, unknown> {
  try {
    const value = JSON.parse(text || '{}') as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
  } catch {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `A tool call's arguments are not valid JSON (${text.slice(0, 80)}); Anthropic needs a JSON object.`, 'messages');
  }
}

function blocksOf(message: ChatMessage): ContentBlock[] {
  switch (message.role) {
    case 'system':
    case 'user':
      return [{ type: 'text', text: message.content }];
    case 'assistant':
      return [
        ...(message.content ? [{ type: 'text' as const, text: message.content }] : []),
        ...(message.toolCalls ?? []).map((call) => ({ type: 'tool_use' as const, id: call.id, name: call.name, input: parseArguments(call.arguments) })),
      ];
    case 'tool':
      return [{ type: 'tool_result', tool_use_id: message.toolCallId, content: message.content }];
  }
}

/** Neutral messages → Anthropic's: system text goes to `system`; tool results ride in user turns;
 *  consecutive turns of one role merge, since Anthropic wants user and assistant to alternate. */
export function toAnthropicMessages(messages: ChatMessage[]): { system?: string; messages: MessageParam[] } {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content);
  const turns: MessageParam[] = [];
  for (const message of messages) {
    if (message.role === 'system') continue;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const blocks = blocksOf(message);
    const previous = turns.at(-1);
    if (previous?.role === role) (previous.content as ContentBlock[]).push(...blocks);
    else turns.push({ role, content: blocks });
  }
  return { ...(system.length ? { system: system.join('\n\n') } : {}), messages: turns };
}

function toToolChoice(choice: ToolChoice | undefined): Params['tool_choice'] {
  if (choice === undefined) return undefined;
  if (typeof choice !== 'string') return { type: 'tool', name: choice.name };
  return { auto: { type: 'auto' as const }, none: { type: 'none' as const }, required: { type: 'any' as const } }[choice];
}

export function toAnthropicTools(tools: ToolDefinition[]): Anthropic.Tool[] {
  return tools.map((tool) => ({
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    input_schema: tool.parameters as Anthropic.Tool.InputSchema,
  }));
}

/** Neutral chat request → Anthropic's streaming request. Anthropic needs max_tokens, takes
 *  temperature only up to 1 (higher values are capped), and has no seed, penalties or JSON mode:
 *  seed and penalties are dropped; a response_format or logit_bias is refused rather than silently ignored. */
export function toMessageParams(request: ChatRequest, upstreamModel: string, defaultMaxTokens: number): Params {
  if (request.responseFormat && request.responseFormat.type !== 'text') {
    throw new ApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', `Anthropic models have no response_format (JSON mode); ask for JSON in the prompt or use another model.`, 'response_format');
  }
  const { sampling } = request;
  if (sampling.logitBias) {
    throw new ApiError('LLMSVC_ERR_UNSUPPORTED_BY_MODEL', `Anthropic models take no logit_bias; remove it, or use a model that does (a local or OpenAI-compatible one).`, 'logit_bias');
  }
  const params: Params = {
    model: upstreamModel,
    max_tokens: request.maxTokens ?? defaultMaxTokens,
    stream: true,
    ...toAnthropicMessages(request.messages),
  };
  if (sampling.temperature !== undefined) params.temperature = Math.min(1, sampling.temperature);
  if (sampling.topP !== undefined) params.top_p = sampling.topP;
  if (sampling.topK !== undefined) params.top_k = sampling.topK;
  if (sampling.stop?.length) params.stop_sequences = sampling.stop;
  if (request.tools?.length) {
    params.tools = toAnthropicTools(request.tools);
    const toolChoice = toToolChoice(request.toolChoice);
    if (toolChoice) params.tool_choice = toolChoice;
  }
  return params;
}

/** Anthropic's stop_reason → llmsvc's finish reason. */
export const finishReasons = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  pause_turn: 'stop',
  refusal: 'stop',
  model_context_window_exceeded: 'length',
} as const satisfies Record<string, FinishReason>;

export function finishReasonOf(reason: string | null | undefined): FinishReason {
  return (finishReasons as Record<string, FinishReason>)[reason ?? 'end_turn'] ?? 'stop';
}
