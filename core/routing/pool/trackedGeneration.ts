import type { Generation, GenerationEvent } from '../../providers/index.js';

/** The generation with `onEnd` called exactly once when its stream is over: its end event, its
 *  last event, a failure, or the consumer leaving early (return()). An iterator object rather than
 *  an async generator: a generator's return() before its first next() would skip the cleanup. */
export function trackedGeneration(generation: Generation, onEnd: () => void): Generation {
  const source = generation.events[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    onEnd();
  };
  const events: AsyncIterableIterator<GenerationEvent> = {
    async next() {
      try {
        const result = await source.next();
        if (result.done || result.value.type === 'end') end();
        return result;
      } catch (error) {
        end();
        throw error;
      }
    },
    async return(value?: unknown) {
      end();
      return source.return ? source.return(value) : { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return { ...generation, events };
}
