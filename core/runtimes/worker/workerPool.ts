import { Piscina } from 'piscina';

/** How every pool's threads start: entry.js registers what the module needs and loads it; the
 *  parent's flags (e.g. --import tsx) are not for workers. */
function threadStart(moduleUrl: URL, workerData: Record<string, unknown> = {}) {
  return { filename: new URL('./entry.js', import.meta.url).href, workerData: { ...workerData, module: moduleUrl.href }, execArgv: [] };
}

const runtimeYoungGenerationMb = 3;

/** A piscina pool of one long-lived thread that runs `moduleUrl`'s default export for each task.
 *  The module keeps its state (loaded models) between tasks, and many tasks run at once in it:
 *  a generation is a task that lasts as long as the generation. `atomics: 'disabled'` keeps the
 *  worker's event loop free while tasks wait, which node-llama-cpp's callbacks need. */
export function createRuntimePool(moduleUrl: URL, workerData: Record<string, unknown>): Piscina {
  return new Piscina({
    ...threadStart(moduleUrl, workerData),
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 1_000_000,
    atomics: 'disabled',
    // A generation can last minutes; idle threads are never reaped, the pool is closed explicitly.
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // The thread's JavaScript makes little short-lived garbage (tokens, events; the model's memory
    // is native), but V8 grows the young generation to 16+ MB while node-llama-cpp loads and keeps
    // it: capped, the process holds ~10 MB less idle and ~25 MB less after serving (measured).
    resourceLimits: { maxYoungGenerationSizeMb: runtimeYoungGenerationMb },
  });
}

/** The sibling module `name` as it exists here: `.ts` when running from the sources, `.js` from dist/. */
export function siblingModule(name: string, importMetaUrl: string): URL {
  const extension = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${extension}`, importMetaUrl);
}

/** A piscina pool of one thread for short CPU-bound tasks (`moduleUrl`'s default export, one task
 *  at a time): the thread starts with the first task and ends after a minute without one. */
export function createTaskPool(moduleUrl: URL): Piscina {
  return new Piscina({ ...threadStart(moduleUrl), minThreads: 0, maxThreads: 1, idleTimeout: 60_000 });
}
