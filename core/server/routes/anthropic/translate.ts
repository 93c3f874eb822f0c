import type { FastifyRequest } from 'fastify';
import type { ChatMessage, ChatRequest, FinishReason, SamplingOptions } from '../../../providers/index.js';
import { scheduleOf } from '../../schedule.js';
import type { CountTokensRequestBody, MessagesRequestBody } from './schemas.js';

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

function textOf(blocks: { text: string }[]): string {
  return blocks.map((block) => block.text).join('');
}

/** The system prompt (an empty one is none) and the turns as neutral messages. A trailing
 *  assistant message stays last: the provider continues it (prefill), and the response holds
 *  only the continuation. */
export function toChatMessages(body: Pick<CountTokensRequestBody, 'system' | 'messages'>): ChatMessage[] {
  const system = body.system === undefined ? '' : textOf(body.system);
  const turns = body.messages.map((message): ChatMessage => ({ role: message.role, content: textOf(message.content) }));
  return system ? [{ role: 'system', content: system }, ...turns] : turns;
}

function samplingOf(body: MessagesRequestBody): SamplingOptions {
  const sampling: Record<string, unknown> = {};
  for (const [field, neutral] of Object.entries(samplingFields)) sampling[neutral] = body[field as keyof typeof samplingFields];
  return sampling as SamplingOptions;
}

export function toChatRequest(body: MessagesRequestBody, request: FastifyRequest): ChatRequest {
  return {
    model: body.model,
    messages: toChatMessages(body),
    maxTokens: body.max_tokens,
    sampling: samplingOf(body),
    schedule: scheduleOf(request, body.metadata?.user_id ?? undefined),
    signal: request.abortSignal,
  };
}
