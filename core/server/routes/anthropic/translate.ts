import type { FastifyRequest } from 'fastify';
import type { ChatMessage, ChatRequest, FinishReason, SamplingOptions } from '../../../providers/index.js';
import { scheduleOf } from '../../schedule.js';
import type { CountTokensRequestBody, MessagesRequestBody } from './schemas.js';
import { toToolChoice, toToolDefinitions } from './tools.js';
import { cacheAlwaysOf, cacheBypassOf } from '../../cacheControl.js';

/** Anthropic's sampling fields → llmsvc's neutral ones. Anthropic has no seed: answers vary
 *  unless temperature is 0 (greedy). */
export const samplingFields = {
  temperature: 'temperature',
  top_p: 'topP',
  top_k: 'topK',
  stop_sequences: 'stop',
} as const satisfies { [Field in keyof MessagesRequestBody]?: keyof SamplingOptions };

/** How a generation ended → Anthropic's stop_reason. */
export const stopReasons = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  stop_sequence: 'stop_sequence',
} as const satisfies Record<FinishReason | 'stop_sequence', string>;

/** The end of a message in Anthropic's fields, as the Message and message_delta carry them. */
export interface MessageEnd {
  stop_reason: (typeof stopReasons)[keyof typeof stopReasons];
  stop_sequence: string | null;
}

export function messageEnd(finishReason: FinishReason, stopSequence?: string): MessageEnd {
  return { stop_reason: stopReasons[stopSequence === undefined ? finishReason : 'stop_sequence'], stop_sequence: stopSequence ?? null };
}

type Block = { type: string; text?: string };

function textOf(blocks: Block[]): string {
  return blocks.map((block) => (block.type === 'text' ? block.text : '')).join('');
}

type Turn = CountTokensRequestBody['messages'][number];

/** One Anthropic turn as neutral messages. An assistant turn's tool_use blocks are its tool
 *  calls (the input object as JSON text). A user turn's tool_result blocks become tool messages,
 *  followed by the turn's text, if any, as a user message. */
function toMessages(turn: Turn): ChatMessage[] {
  if (turn.role === 'assistant') {
    const toolCalls = turn.content.flatMap((block) => (block.type === 'tool_use' ? [{ id: block.id, name: block.name, arguments: JSON.stringify(block.input) }] : []));
    return [{ role: 'assistant', content: textOf(turn.content), ...(toolCalls.length > 0 ? { toolCalls } : {}) }];
  }
  const results = turn.content.flatMap((block): ChatMessage[] => {
    if (block.type !== 'tool_result') return [];
    const content = textOf(block.content ?? []);
    // The neutral tool message has no error flag: the model reads that the tool failed.
    return [{ role: 'tool', toolCallId: block.tool_use_id, content: block.is_error ? `Error: ${content}` : content }];
  });
  const text = textOf(turn.content);
  return results.length > 0 && text === '' ? results : [...results, { role: 'user', content: text }];
}

/** The system prompt (an empty one is none) and the turns as neutral messages. A trailing
 *  assistant message stays last: the provider continues it (prefill), and the response holds
 *  only the continuation; so does a trailing user turn of only tool results, which the
 *  assistant turn that made the calls goes on from. */
export function toChatMessages(body: Pick<CountTokensRequestBody, 'system' | 'messages'>): ChatMessage[] {
  const system = body.system === undefined ? '' : textOf(body.system);
  const turns = body.messages.flatMap(toMessages);
  return system ? [{ role: 'system', content: system }, ...turns] : turns;
}

/** What count_tokens and messages both need for the prompt: the messages and the tools the template documents. */
export function toChatPrompt(body: CountTokensRequestBody | MessagesRequestBody) {
  return { model: body.model, messages: toChatMessages(body), tools: toToolDefinitions(body.tools), toolChoice: toToolChoice(body.tool_choice) };
}

function samplingOf(body: MessagesRequestBody): SamplingOptions {
  const sampling: Record<string, unknown> = {};
  for (const [field, neutral] of Object.entries(samplingFields)) sampling[neutral] = body[field as keyof typeof samplingFields];
  return sampling as SamplingOptions;
}

export function toChatRequest(body: MessagesRequestBody, request: FastifyRequest): ChatRequest {
  return {
    ...toChatPrompt(body),
    maxTokens: body.max_tokens,
    sampling: samplingOf(body),
    schedule: scheduleOf(request, body.metadata?.user_id ?? undefined),
    signal: request.abortSignal,
    cacheBypass: cacheBypassOf(request),
    cacheAlways: cacheAlwaysOf(request),
    stream: body.stream === true,
  };
}
