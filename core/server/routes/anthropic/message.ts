import type { ToolCall } from '../../../providers/index.js';
import type { ChoicesUsage } from '../../runChoices.js';
import { toolUseBlock } from './tools.js';
import type { MessageEnd } from './translate.js';

export interface MessageEnvelope {
  id: string;
  model: string;
}

export type ContentBlock = { type: 'text'; text: string } | ReturnType<typeof toolUseBlock>;

export function anthropicUsage(usage: ChoicesUsage) {
  return { input_tokens: usage.promptTokens, output_tokens: usage.completionTokens };
}

/** A message's content: its text as one block, then a tool_use block per call. A message that
 *  only calls tools has no text block; one with neither has an empty text block. */
export function contentBlocks(text: string, calls: ToolCall[]): ContentBlock[] {
  const textBlocks: ContentBlock[] = text !== '' || calls.length === 0 ? [{ type: 'text', text }] : [];
  return [...textBlocks, ...calls.map(toolUseBlock)];
}

/** Anthropic's Message object. message_start sends it before generation: no content, no end yet. */
export function messageBody(envelope: MessageEnvelope, content: ContentBlock[], end: MessageEnd | null, usage: ChoicesUsage) {
  return {
    id: envelope.id,
    type: 'message',
    role: 'assistant',
    model: envelope.model,
    content,
    stop_reason: end?.stop_reason ?? null,
    stop_sequence: end?.stop_sequence ?? null,
    usage: anthropicUsage(usage),
  };
}
