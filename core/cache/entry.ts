import type { Generation, GenerationEvent } from '../providers/types.js';

/** What the cache keeps per request: the generation's events exactly as they were produced
 *  (so a replayed stream has the same text chunks) and its token counts. */
export interface CachedGeneration {
  promptTokens: number;
  maxTokens: number;
  events: GenerationEvent[];
}

/** A stored entry as a fresh Generation: one consumer, events in their recorded order. */
export function replay(entry: CachedGeneration): Generation {
  return {
    promptTokens: entry.promptTokens,
    maxTokens: entry.maxTokens,
    events: (async function* () {
      yield* entry.events;
    })(),
  };
}

/** Whether a value read back from the store looks like an entry (a store shared with another
 *  version, or a hand-edited row, must not crash a request). */
export function isCachedGeneration(value: unknown): value is CachedGeneration {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Partial<CachedGeneration>;
  return (
    typeof entry.promptTokens === 'number' &&
    typeof entry.maxTokens === 'number' &&
    Array.isArray(entry.events) &&
    entry.events.at(-1)?.type === 'end'
  );
}

/** Passes the generation's events through unchanged and hands the full recording to `onEnd`
 *  when the `end` event arrives. A generation that fails, or that its consumer abandons, never
 *  reaches `end`, so it is never stored; nor is one whose request was aborted. */
export function recording(
  generation: Generation,
  onEnd: (entry: CachedGeneration) => void,
  signal?: AbortSignal,
): Generation {
  async function* tee(): AsyncGenerator<GenerationEvent> {
    const events: GenerationEvent[] = [];
    for await (const event of generation.events) {
      events.push(event);
      if (event.type === 'end' && !signal?.aborted) {
        onEnd({ promptTokens: generation.promptTokens, maxTokens: generation.maxTokens, events });
      }
      yield event;
    }
  }
  return { ...generation, events: tee() };
}
