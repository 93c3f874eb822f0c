/** A pause that ends after `ms`, or at once when `wake` is called: how the job runner and the
 *  batch worker wait between passes, so new work is picked up without waiting for the poll. */
export function wakeableSleep(ms: number): { done: Promise<void>; wake: () => void } {
  let wake!: () => void;
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      resolve();
    }
    wake = finish;
  });
  return { done, wake };
}
