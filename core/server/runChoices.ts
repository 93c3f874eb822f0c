import type { FastifyRequest } from 'fastify';
import type { FinishReason, Generation, ToolCall } from '../providers/index.js';

export interface ChoiceHandlers {
  /** Called when the first event arrives: the moment to send stream headers. Until then the
   *  request may still fail as a plain HTTP error (a full queue's 429, a failure before the
   *  first token). */
  onStart?(): void;
  onText(index: number, text: string): void;
  /** A complete tool call of choice `index`; its choice then ends with finish reason tool_calls.
   *  Only chat requests that offer tools get them (legacy completions never do). */
  onToolCall?(index: number, call: ToolCall): void;
  /** `stopSequence`: the stop sequence that ended the choice, if one did. */
  onEnd(index: number, finishReason: FinishReason, stopSequence?: string): void;
}

export interface ChoicesUsage {
  promptTokens: number;
  completionTokens: number;
}

/** Runs the `n` choices of one request (OpenAI's `n`; 1 for Anthropic) one after the other and
 *  reports their text and tool calls as they come, filling the request's accounting and reserving its tokens.
 *  The prompt is counted once, as OpenAI does; completion tokens add up over the choices. */
export async function runChoices(
  request: FastifyRequest,
  n: number,
  start: (index: number) => Promise<Generation>,
  handlers: ChoiceHandlers,
): Promise<ChoicesUsage> {
  const accounting = request.accounting;
  let generation = await start(0);
  accounting.cacheStatus = generation.cacheStatus;
  // TPM and quotas: the prompt plus the most the completion may take, before any work starts.
  const reserving = request.reserveTokens(generation.promptTokens + generation.maxTokens);
  if (reserving) await reserving;
  accounting.promptTokens = generation.promptTokens;
  accounting.completionTokens = 0;
  let started = false;
  for (let index = 0; index < n; index++) {
    if (index > 0) {
      generation = await start(index);
      const reservingMore = request.reserveTokens(generation.maxTokens);
      if (reservingMore) await reservingMore;
    }
    for await (const event of generation.events) {
      if (!started) {
        started = true;
        handlers.onStart?.();
      }
      if (event.type === 'text') {
        accounting.ttftMs ??= performance.now() - request.startedAt;
        handlers.onText(index, event.text);
      } else if (event.type === 'tool_call') {
        accounting.ttftMs ??= performance.now() - request.startedAt;
        handlers.onToolCall?.(index, event.call);
      } else if (event.type === 'end') {
        accounting.completionTokens += event.completionTokens;
        // An upstream learns the exact prompt size only now; the prompt counts once, as above.
        if (index === 0 && event.promptTokens !== undefined) accounting.promptTokens = event.promptTokens;
        handlers.onEnd(index, event.finishReason, event.stopSequence);
      }
    }
  }
  return { promptTokens: accounting.promptTokens, completionTokens: accounting.completionTokens };
}
