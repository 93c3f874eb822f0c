const ignore = () => {};

/** `promise`, or a rejection with the signal's reason as soon as the signal aborts, so a provider
 *  that ignores its signal still cannot keep us waiting. A value that arrives after the abort is
 *  handed to `discard` (to close what it holds). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, discard: (late: T) => void = ignore): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      if (settled) return;
      settled = true;
      reject(signal.reason);
      promise.then(discard, ignore);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return discard(value);
        settled = true;
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (settled) return;
        settled = true;
        reject(error);
      },
    );
  });
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
