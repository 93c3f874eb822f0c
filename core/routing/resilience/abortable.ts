const ignore = () => {};

/** Races promises against one AbortSignal for as long as an attempt lives: each `race(promise)`
 *  settles as the promise does, or rejects with the signal's reason as soon as the signal aborts,
 *  so a provider that ignores its signal still cannot keep us waiting. One abort listener per
 *  attempt rather than one added and removed per awaited event (EventTarget listeners cost a few
 *  microseconds each, on every token of every stream). One race at a time, as an iterator is read. */
export class AbortRace {
  #rejectCurrent: ((reason: unknown) => void) | undefined;
  readonly #onAbort = () => {
    const reject = this.#rejectCurrent;
    this.#rejectCurrent = undefined;
    reject?.(this.signal.reason);
  };

  constructor(private readonly signal: AbortSignal) {
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** `promise`, or the signal's reason once it aborts. A value that arrives after the abort is
   *  handed to `discard` (to close what it holds). */
  race<T>(promise: Promise<T>, discard: (late: T) => void = ignore): Promise<T> {
    if (this.signal.aborted) {
      promise.then(discard, ignore);
      return Promise.reject(this.signal.reason);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      this.#rejectCurrent = (reason) => {
        settled = true;
        reject(reason);
      };
      promise.then(
        (value) => {
          if (settled) return discard(value);
          settled = true;
          this.#rejectCurrent = undefined;
          resolve(value);
        },
        (error: unknown) => {
          if (settled) return;
          settled = true;
          this.#rejectCurrent = undefined;
          reject(error);
        },
      );
    });
  }

  /** The attempt is over: no more races. */
  dispose(): void {
    this.signal.removeEventListener('abort', this.#onAbort);
  }
}

/** Ends an async iterator without waiting for it (a stuck upstream may never answer `return`). */
export function closeQuietly(iterator: AsyncIterator<unknown> | undefined): void {
  if (!iterator?.return) return;
  try {
    iterator.return().catch(ignore);
  } catch {
    // A synchronous throw from return(): nothing left to close.
  }
}
