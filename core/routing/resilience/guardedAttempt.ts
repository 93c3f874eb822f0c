import { ApiError, isApiError } from '../../errors/index.js';
import type { Generation, GenerationEvent } from '../../providers/types.js';
import { AbortRace, closeQuietly } from './abortable.js';
import { UpstreamProtocolError, UpstreamTimeoutError, type TimeoutPhase } from './errors.js';

/** Per-target time limits, in ms; an absent one is not enforced. */
export interface TimeoutPolicy {
  /** From `context.connecting()` to `context.connected()`: only for attempts that report them. */
  connectMs?: number;
  /** From the start of the attempt to its first event (for a non-streamed call: to its response,
   *  which arrives with all its events). Covers the connect phase too. */
  firstByteMs?: number;
  /** The longest wait for each further event. */
  idleMs?: number;
  /** For an attempt that answers in one piece (see GuardedAttemptOptions.wholeAnswer): the longest
   *  wait for that answer; it replaces firstByteMs there. */
  wholeAnswerMs?: number;
}

/** What one attempt on an upstream is given. */
export interface AttemptContext {
  /** Pass it to fetch or the SDK. Aborted on a timeout (reason: an UpstreamTimeoutError), when the
   *  client leaves, or when the consumer stops reading the stream. */
  readonly signal: AbortSignal;
  /** 0 on the first attempt on this target, 1 on its first retry, … */
  readonly retry: number;
  /** Call when opening the connection starts and when it is up, where the transport can tell
   *  (node:http's socket `connect`); that arms the connect timeout. Attempts that cannot tell call
   *  neither and are bounded by the first-byte timeout alone. */
  connecting(): void;
  connected(): void;
}

export type StartAttempt = (context: AttemptContext) => Promise<Generation>;

export interface GuardedAttemptOptions {
  /** Named in errors and messages: the breaker key of the target. */
  upstream: string;
  retry: number;
  timeouts: TimeoutPolicy;
  /** The client's signal: aborting it stops the attempt at any point. */
  signal?: AbortSignal;
  /** The attempt's first event comes with its whole answer (a non-streamed upstream call), so its
   *  wait is bounded by `wholeAnswerMs` rather than `firstByteMs`. */
  wholeAnswer?: boolean;
  /** Told about a failure after the first event (the stream broke), before it is rethrown. */
  onStreamFailure?: (error: unknown) => void;
}

/** Runs one attempt until its first event and returns it as a Generation whose remaining events
 *  are held to the idle timeout. Rejects (and aborts the attempt) if it fails or times out before
 *  the first event; that is the point where a caller can still retry or fall back. */
export async function startGuardedAttempt(start: StartAttempt, options: GuardedAttemptOptions): Promise<Generation> {
  const { upstream, timeouts, signal: clientSignal } = options;
  const controller = new AbortController();
  const race = new AbortRace(controller.signal);
  const onClientAbort = () => controller.abort(clientSignal!.reason);
  if (clientSignal?.aborted) onClientAbort();
  else clientSignal?.addEventListener('abort', onClientAbort, { once: true });
  const release = () => {
    clientSignal?.removeEventListener('abort', onClientAbort);
    race.dispose();
  };
  const timeOut = (phase: TimeoutPhase, ms: number) => controller.abort(new UpstreamTimeoutError(phase, ms, upstream));

  const firstMs = options.wholeAnswer ? (timeouts.wholeAnswerMs ?? timeouts.firstByteMs) : timeouts.firstByteMs;
  const firstByteTimer = armTimer(firstMs, () => timeOut(options.wholeAnswer ? 'whole_answer' : 'first_byte', firstMs!));
  let connectTimer: NodeJS.Timeout | undefined;
  let connectDone = false;
  const endConnectPhase = () => {
    connectDone = true;
    clearTimeout(connectTimer);
  };
  const context: AttemptContext = {
    signal: controller.signal,
    retry: options.retry,
    connecting: () => {
      if (connectDone || connectTimer) return;
      connectTimer = armTimer(timeouts.connectMs, () => timeOut('connect', timeouts.connectMs!));
    },
    connected: endConnectPhase,
  };

  let iterator: AsyncIterator<GenerationEvent> | undefined;
  try {
    let started: Promise<Generation>;
    try {
      started = start(context);
    } catch (error) {
      started = Promise.reject(error);
    }
    const generation = await race.race(started, (late) => closeQuietly(late.events[Symbol.asyncIterator]()));
    endConnectPhase();
    iterator = generation.events[Symbol.asyncIterator]();
    const first = await race.race(iterator.next());
    if (first.done) throw new UpstreamProtocolError(`The upstream ${upstream} ended its response without a single event.`);
    return {
      promptTokens: generation.promptTokens,
      maxTokens: generation.maxTokens,
      events: new GuardedEvents(first.value, iterator, { ...options, controller, race, release }),
    };
  } catch (error) {
    release();
    // Our own abort reason (a timeout, the client leaving) explains the failure better than the
    // AbortError the provider may have turned it into.
    const cause = controller.signal.aborted ? controller.signal.reason : error;
    if (!controller.signal.aborted) controller.abort(cause);
    closeQuietly(iterator);
    throw cause;
  } finally {
    clearTimeout(firstByteTimer);
    endConnectPhase();
  }
}

function armTimer(ms: number | undefined, onTimeout: () => void): NodeJS.Timeout | undefined {
  return ms === undefined ? undefined : setTimeout(onTimeout, ms);
}

interface StreamGuard extends GuardedAttemptOptions {
  controller: AbortController;
  race: AbortRace;
  /** Unlinks the client's signal and ends the race. */
  release: () => void;
}

/** The events after the first, each awaited at most `idleMs`. Any failure from here on ends the
 *  stream with an ApiError (the server writes it as the front's error event): the client has seen
 *  output, so there is no switching to another target. An iterator object rather than an async
 *  generator because a generator's `return()` before its first `next()` skips its cleanup, and
 *  closing a stream nobody read must still stop the upstream. */
class GuardedEvents implements AsyncIterableIterator<GenerationEvent> {
  #first: GenerationEvent | undefined;
  #finished = false;
  /** One timer for the whole stream, re-armed (refresh) for each awaited event. */
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(
    first: GenerationEvent,
    private readonly iterator: AsyncIterator<GenerationEvent>,
    private readonly guard: StreamGuard,
  ) {
    this.#first = first;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<GenerationEvent, undefined>> {
    if (this.#finished) return { done: true, value: undefined };
    if (this.#first) {
      const value = this.#first;
      this.#first = undefined;
      // The whole answer of a one-piece call is already here: no idle wait to arm.
      if (value.type === 'end') this.#finish(true);
      return { done: false, value };
    }
    try {
      this.#armIdleTimer();
      const next = await this.guard.race.race(this.iterator.next());
      if (!next.done) return { done: false, value: next.value };
      this.#finish(true);
      return { done: true, value: undefined };
    } catch (error) {
      const { controller, signal: clientSignal } = this.guard;
      const cause = controller.signal.aborted ? controller.signal.reason : error;
      this.#finish(false);
      if (clientSignal?.aborted) throw cause; // the client left: nobody to tell
      this.guard.onStreamFailure?.(cause);
      throw midStreamError(cause, this.guard.upstream);
    }
  }

  /** The consumer stopped early (the client hung up, or it read enough): stop the upstream. */
  async return(): Promise<IteratorResult<GenerationEvent, undefined>> {
    this.#finish(false);
    return { done: true, value: undefined };
  }

  #armIdleTimer(): void {
    const { idleMs } = this.guard.timeouts;
    if (idleMs === undefined) return;
    if (this.#idleTimer) this.#idleTimer.refresh();
    else this.#idleTimer = setTimeout(() => this.guard.controller.abort(new UpstreamTimeoutError('idle', idleMs, this.guard.upstream)), idleMs);
  }

  #finish(completed: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    clearTimeout(this.#idleTimer);
    this.guard.release();
    if (completed) return;
    const { controller } = this.guard;
    if (!controller.signal.aborted) controller.abort(new Error('The stream was closed before its end.'));
    closeQuietly(this.iterator);
  }
}

function midStreamError(error: unknown, upstream: string): ApiError {
  if (isApiError(error)) return error;
  const apiError = new ApiError(
    'LLMSVC_ERR_UPSTREAM_UNAVAILABLE',
    `The upstream ${upstream} broke off its reply mid-stream, so the output is incomplete. Retry the request.`,
  );
  apiError.cause = error;
  return apiError;
}
