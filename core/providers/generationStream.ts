import type { GenerationEvent, FinishReason } from './types.js';

export interface GenerationOutcome {
  finishReason: FinishReason;
  completionTokens: number;
  stopSequence?: string;
  /** The exact prompt size, when it is learnt only at the end (upstream providers). */
  promptTokens?: number;
  /** How long a local generation waited for a sequence of its model (the fair queue). */
  queuedMs?: number;
}

/** What a running generation hands out before its end: text (a string, the common case) or a
 *  whole event such as a tool call. */
export type Emit = (output: string | Exclude<GenerationEvent, { type: 'end' }>) => void;

type Run = (emit: Emit, signal: AbortSignal) => Promise<GenerationOutcome>;

/** Turns callback-style generation into an AsyncIterable of events: `run` starts on the first
 *  `next()`, its output is buffered until read, its outcome becomes the final `end` event and its
 *  failure the iterator's error (after the events it emitted first). When the consumer leaves its
 *  loop early (the client hung up), the signal handed to `run` aborts, which stops the generation
 *  upstream; so does `outerSignal`.
 *
 *  Hand-written rather than a Readable in object mode: on a gateway's hot path the Readable's
 *  async iterator cost several microseconds per event and per stream (its own promises, an
 *  EventEmitter, a destroy protocol), for behaviour this needs a few lines of. */
export function generationStream(run: Run, outerSignal?: AbortSignal): AsyncIterableIterator<GenerationEvent> {
  return new GenerationEvents(run, outerSignal);
}

class GenerationEvents implements AsyncIterableIterator<GenerationEvent> {
  readonly #controller = new AbortController();
  #buffer: GenerationEvent[] = [];
  #waiting: { resolve: (result: IteratorResult<GenerationEvent, undefined>) => void; reject: (error: unknown) => void } | undefined;
  #started = false;
  /** `run` has settled: nothing runs upstream any more, so closing the stream aborts nothing. */
  #settled = false;
  /** The consumer closed the stream: output is dropped. */
  #closed = false;
  #failure: { error: unknown } | undefined;
  readonly #onOuterAbort = () => this.#abort();

  constructor(
    private readonly run: Run,
    private readonly outerSignal: AbortSignal | undefined,
  ) {
    outerSignal?.addEventListener('abort', this.#onOuterAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<GenerationEvent, undefined>> {
    if (!this.#started) this.#start();
    const event = this.#buffer.shift();
    if (event) return Promise.resolve({ done: false, value: event });
    if (this.#failure) return Promise.reject(this.#failure.error);
    if (this.#settled || this.#closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  /** The consumer stopped early: stop the generation if it is still running. */
  return(): Promise<IteratorResult<GenerationEvent, undefined>> {
    if (!this.#closed) {
      this.#closed = true;
      this.#buffer = [];
      if (!this.#settled) this.#abort();
      this.#unlinkOuter();
      const waiting = this.#waiting;
      this.#waiting = undefined;
      waiting?.resolve({ done: true, value: undefined });
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  #start(): void {
    this.#started = true;
    this.run(this.#emit, this.#controller.signal).then(
      (outcome) => {
        this.#settled = true;
        this.#unlinkOuter();
        if (!this.#closed) this.#push({ type: 'end', ...outcome });
        this.#wake();
      },
      (error: unknown) => {
        this.#settled = true;
        this.#unlinkOuter();
        if (!this.#closed) this.#failure = { error };
        this.#wake();
      },
    );
  }

  readonly #emit: Emit = (output) => {
    if (this.#closed || this.#settled) return;
    if (typeof output !== 'string') this.#push(output);
    else if (output) this.#push({ type: 'text', text: output });
  };

  #push(event: GenerationEvent): void {
    const waiting = this.#waiting;
    if (!waiting) {
      this.#buffer.push(event);
      return;
    }
    this.#waiting = undefined;
    waiting.resolve({ done: false, value: event });
  }

  /** After `run` settled: a reader still waiting gets the error or the end. */
  #wake(): void {
    const waiting = this.#waiting;
    if (!waiting) return;
    this.#waiting = undefined;
    if (this.#failure) waiting.reject(this.#failure.error);
    else waiting.resolve({ done: true, value: undefined });
  }

  #abort(): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(this.outerSignal?.reason ?? new Error('The client went away.'));
  }

  #unlinkOuter(): void {
    this.outerSignal?.removeEventListener('abort', this.#onOuterAbort);
  }
}
