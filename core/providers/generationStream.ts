import { Readable } from 'node:stream';
import type { GenerationEvent, FinishReason } from './types.js';

export interface GenerationOutcome {
  finishReason: FinishReason;
  completionTokens: number;
  stopSequence?: string;
  /** The exact prompt size, when it is learnt only at the end (upstream providers). */
  promptTokens?: number;
}

/** Turns callback-style generation into an AsyncIterable of events. A Readable in object mode
 *  does the buffering; `run` starts on the first read; and when the consumer leaves its loop
 *  early (the client hung up), the Readable is destroyed: that aborts the signal handed to
 *  `run`, which stops the generation upstream. */
/** What a running generation hands out before its end: text (a string, the common case) or a
 *  whole event such as a tool call. */
export type Emit = (output: string | Exclude<GenerationEvent, { type: 'end' }>) => void;

export function generationStream(
  run: (emit: Emit, signal: AbortSignal) => Promise<GenerationOutcome>,
  outerSignal?: AbortSignal,
): AsyncIterable<GenerationEvent> {
  const controller = new AbortController();
  const abort = () => controller.abort(outerSignal?.reason ?? new Error('The client went away.'));
  outerSignal?.addEventListener('abort', abort, { once: true });
  let started = false;
  /** `run` has settled: nothing runs upstream any more, so ending the stream aborts nothing. */
  let settled = false;
  const readable = new Readable({
    objectMode: true,
    read() {
      if (started) return;
      started = true;
      start();
    },
    destroy(error, callback) {
      // Destroyed before `run` settled: the consumer left early, so the generation must stop.
      // After it settled (the common case: the consumer read to the end) there is nothing to
      // stop, and aborting would only make an Error and run every abort listener downstream.
      if (!settled && !controller.signal.aborted) abort();
      outerSignal?.removeEventListener('abort', abort);
      callback(error);
    },
  });
  const start = () =>
    run((output) => {
      if (readable.destroyed) return;
      if (typeof output !== 'string') readable.push(output);
      else if (output) readable.push({ type: 'text', text: output } satisfies GenerationEvent);
    }, controller.signal).then(
      (outcome) => {
        settled = true;
        outerSignal?.removeEventListener('abort', abort);
        if (readable.destroyed) return;
        readable.push({ type: 'end', ...outcome } satisfies GenerationEvent);
        readable.push(null);
      },
      (error: unknown) => {
        settled = true;
        if (!readable.destroyed) readable.destroy(error as Error);
      },
    );
  return readable;
}
