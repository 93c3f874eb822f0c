import type { FastifyRequest } from 'fastify';
import type { ChatMessage, ChatRequest, ResponseFormat, SamplingOptions, ToolChoice, ToolDefinition } from '../../../../providers/index.js';
import { ApiError } from '../../../../errors/index.js';
import { cacheAlwaysOf, cacheBypassOf } from '../../../cacheControl.js';
import { scheduleOf } from '../../../schedule.js';
import type { CreateResponseBody, InputItem, TextFormat, TextPart } from './schema.js';

/** The Responses API → llmsvc's neutral chat request. Field renames are data (the tables below);
 *  the items of the input become the chat's messages. */

/** Sampling fields → the neutral ones. `seed` is llmsvc's extension, as in chat completions. */
export const samplingFields = {
  temperature: 'temperature',
  top_p: 'topP',
  seed: 'seed',
} as const satisfies { [Field in keyof CreateResponseBody]?: keyof SamplingOptions };

/** Message roles → the neutral ones: "developer" is OpenAI's newer name for the system role. */
export const messageRoles = {
  user: 'user',
  assistant: 'assistant',
  system: 'system',
  developer: 'system',
} as const satisfies Record<string, ChatMessage['role']>;

/** The text of each part type. */
const partTexts = {
  input_text: (part) => ('text' in part ? part.text : ''),
  output_text: (part) => ('text' in part ? part.text : ''),
  refusal: (part) => ('refusal' in part ? part.refusal : ''),
} as const satisfies Record<TextPart['type'], (part: TextPart) => string>;

function textOf(content: string | TextPart[]): string {
  return typeof content === 'string' ? content : content.map((part) => partTexts[part.type](part)).join('');
}

/** The input as items: a string is one user message. */
export function inputItems(input: CreateResponseBody['input']): InputItem[] {
  return typeof input === 'string' ? [{ type: 'message', role: 'user', content: input }] : input;
}

/** Items → neutral messages. An assistant's text and the function calls that follow it are one
 *  assistant turn (as a chat completion's message has content and tool_calls); each
 *  function_call_output is a tool message. */
export function toChatMessages(instructions: string | null | undefined, items: readonly Record<string, unknown>[] | readonly InputItem[]): ChatMessage[] {
  const messages: ChatMessage[] = instructions ? [{ role: 'system', content: instructions }] : [];
  for (const item of items as InputItem[]) {
    const last = messages.at(-1);
    if (item.type === 'function_call') {
      const call = { id: item.call_id, name: item.name, arguments: item.arguments };
      if (last?.role === 'assistant') last.toolCalls = [...(last.toolCalls ?? []), call];
      else messages.push({ role: 'assistant', content: '', toolCalls: [call] });
    } else if (item.type === 'function_call_output') {
      messages.push({ role: 'tool', toolCallId: item.call_id, content: textOf(item.output) });
    } else {
      messages.push({ role: messageRoles[item.role], content: textOf(item.content) });
    }
  }
  return messages;
}

/** The calls and their outputs pair up as OpenAI requires: every function_call_output answers a
 *  function_call before it, and every call is answered before the next user, system or developer
 *  message. Said in the Responses API's terms (input[i]) rather than as the chat messages the
 *  client never sent. `inputStart`: where this request's input begins in `context` (before it:
 *  the history of previous_response_id). */
export function checkCallOutputs(context: readonly Record<string, unknown>[], inputStart: number): void {
  const calls = new Set<unknown>();
  const unanswered = new Set<unknown>();
  const param = (index: number, field?: string) => (index >= inputStart ? `input[${index - inputStart}]${field ? `.${field}` : ''}` : 'previous_response_id');
  context.forEach((item, index) => {
    if (item.type === 'function_call') {
      calls.add(item.call_id);
      unanswered.add(item.call_id);
    } else if (item.type === 'function_call_output') {
      if (!calls.has(item.call_id)) {
        throw new ApiError(
          'LLMSVC_ERR_INVALID_PARAM',
          `No tool call found for function call output with call_id '${String(item.call_id)}'. Give the function_call item it answers earlier in the input, or continue the response that made the call with previous_response_id.`,
          param(index, 'call_id'),
        );
      }
      unanswered.delete(item.call_id);
    } else if (item.role !== 'assistant' && unanswered.size > 0) {
      throw new ApiError(
        'LLMSVC_ERR_INVALID_PARAM',
        `No tool output found for function call '${String([...unanswered][0])}'. Give a function_call_output item for every call before the next message.`,
        param(index),
      );
    }
  });
}

export function toToolDefinitions(tools: CreateResponseBody['tools']): ToolDefinition[] | undefined {
  return tools?.map((tool) => ({
    name: tool.name,
    ...(tool.description ? { description: tool.description } : {}),
    // OpenAI: omitted parameters describe a function that takes none.
    parameters: tool.parameters ?? { type: 'object', properties: {} },
  }));
}

export function toToolChoice(choice: CreateResponseBody['tool_choice']): ToolChoice | undefined {
  return typeof choice === 'object' ? { name: choice.name } : choice;
}

export function toResponseFormat(format: TextFormat | undefined): ResponseFormat | undefined {
  if (!format || format.type !== 'json_schema') return format;
  return { type: 'json_schema', schema: format.schema };
}

function samplingOf(body: CreateResponseBody): SamplingOptions {
  const sampling: Record<string, unknown> = {};
  for (const [field, neutral] of Object.entries(samplingFields)) sampling[neutral] = body[field as keyof typeof samplingFields] ?? undefined;
  return sampling as SamplingOptions;
}

/** The chat request for a response: `context` is every item the model reads (earlier turns, then this input). */
export function toChatRequest(body: CreateResponseBody, context: readonly Record<string, unknown>[], request: FastifyRequest): ChatRequest {
  return {
    model: body.model,
    messages: toChatMessages(body.instructions, context),
    tools: toToolDefinitions(body.tools),
    toolChoice: toToolChoice(body.tool_choice),
    maxTokens: body.max_output_tokens ?? undefined,
    sampling: samplingOf(body),
    responseFormat: toResponseFormat(body.text?.format),
    schedule: scheduleOf(request, body.user ?? body.safety_identifier ?? undefined),
    signal: request.abortSignal,
    cacheBypass: cacheBypassOf(request),
    cacheAlways: cacheAlwaysOf(request),
    stream: body.stream === true,
  };
}
