import type { ChoicesUsage } from '../../runChoices.js';
import type { MessageEnd } from './translate.js';

export interface MessageEnvelope {
  id: string;
  model: string;
}

export function anthropicUsage(usage: ChoicesUsage) {
  return { input_tokens: usage.promptTokens, output_tokens: usage.completionTokens };
}

/** Anthropic's Message object. message_start sends it before generation: no content, no end yet. */
export function messageBody(envelope: MessageEnvelope, content: { type: 'text'; text: string }[], end: MessageEnd | null, usage: ChoicesUsage) {
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
