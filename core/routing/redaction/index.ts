import { redactionKinds, type RedactionKind } from '../../config/index.js';
import type { ChatMessage, ChatRequest, Generation, GenerationEvent } from '../../providers/types.js';
import { PlaceholderTable, placeholderPattern } from './placeholders.js';
import { redactJsonText } from './redactJson.js';
import { restoreEvents } from './restoreStream.js';

export { passesIbanCheck, passesLuhn } from './checksums.js';
export { findPersonalData, type Finding } from './detectors.js';
export { redactionKinds, type RedactionKind };

/** One request with its personal data replaced by placeholders, and the way back. */
export interface RedactedChat {
  /** The request to send to the cloud target (a copy; the original is untouched). */
  request: ChatRequest;
  /** How many distinct values were replaced (0: the request had nothing to scrub). */
  replaced: number;
  /** A whole answer's text with the original values back. */
  restoreText(text: string): string;
  /** The answer's events with the original values back, in text deltas and tool-call arguments. */
  restoreEvents(events: AsyncIterable<GenerationEvent>): AsyncIterable<GenerationEvent>;
  /** The same generation with its events restored. */
  restoreGeneration(generation: Generation): Generation;
}

/** Scrubs the personal data of some kinds from chat requests headed for a cloud target. */
export interface Redactor {
  readonly kinds: readonly RedactionKind[];
  redact(request: ChatRequest): RedactedChat;
}

/** A redactor for the given kinds (default: all). The router calls it for non-local targets
 *  only; local models see the request as the user wrote it. */
export function createRedactor(kinds: readonly RedactionKind[] = redactionKinds): Redactor {
  const kindSet: ReadonlySet<RedactionKind> = new Set(kinds);
  return {
    kinds: [...kindSet],
    redact(request) {
      const userText = everyText(request.messages);
      const reserved = userPlaceholders(userText);
      const table = new PlaceholderTable(kindSet, (placeholder) => reserved.has(placeholder));
      const redacted: ChatRequest = { ...request, messages: request.messages.map((message) => redactMessage(message, table)) };
      return {
        request: redacted,
        replaced: table.size,
        restoreText: (text) => table.restore(text),
        restoreEvents: (events) => restoreEvents(events, table),
        restoreGeneration: (generation) => ({ ...generation, events: restoreEvents(generation.events, table) }),
      };
    },
  };
}

/** A route's `redact` setting (false, true for every kind, or a list of kinds) as a redactor;
 *  undefined when the route does not redact. */
export function redactorForRoute(setting: boolean | readonly RedactionKind[]): Redactor | undefined {
  if (setting === false || (Array.isArray(setting) && setting.length === 0)) return undefined;
  return createRedactor(setting === true ? redactionKinds : setting);
}

function redactMessage(message: ChatMessage, table: PlaceholderTable): ChatMessage {
  const redact = (text: string) => table.redact(text);
  switch (message.role) {
    case 'assistant':
      return {
        ...message,
        content: redact(message.content),
        ...(message.toolCalls && {
          toolCalls: message.toolCalls.map((call) => ({ ...call, arguments: redactJsonText(call.arguments, redact) })),
        }),
      };
    case 'tool':
      return { ...message, content: redactJsonText(message.content, redact) };
    default:
      return { ...message, content: redact(message.content) };
  }
}

function everyText(messages: readonly ChatMessage[]): string[] {
  return messages.flatMap((message) => [
    message.content,
    ...(message.role === 'assistant' ? (message.toolCalls ?? []).map((call) => call.arguments) : []),
  ]);
}

function userPlaceholders(texts: readonly string[]): Set<string> {
  return new Set(texts.flatMap((text) => text.match(placeholderPattern) ?? []));
}
