import { BroadcastChannel, workerData, type MessagePort } from 'node:worker_threads';
import { createRuntimeMetrics } from '../../../metrics/index.js';
import { LlamaRuntime, ModelManager } from '../../../runtimes/index.js';
import { LlamaProvider } from '../index.js';
import type { Generation } from '../../types.js';
import { toPortableError, type CancelFlag, type FromGeneration, type RuntimeLogLine, type RuntimeSettings, type RuntimeStats, type RuntimeTask, type TaskResult, type ToGeneration } from './protocol.js';

// The runtime thread: node-llama-cpp, the loaded models and their scheduler live here, off the
// HTTP event loop. Piscina calls the default export once per task; the state below persists.

const settings = workerData as RuntimeSettings;
const logs = new BroadcastChannel(settings.logChannel);
const log = (level: RuntimeLogLine['level'], obj: object, msg: string) => logs.postMessage({ level, obj, msg } satisfies RuntimeLogLine);
const metrics = createRuntimeMetrics();
const runtime = new LlamaRuntime({ gpu: settings.gpu, fastAddonDir: settings.fastAddonDir, binaryCheckFile: settings.binaryCheckFile, onLog: (level, message) => log(level, { source: 'llama.cpp' }, message.trim()) });
const models = new ModelManager(runtime, {
  modelsDir: settings.modelsDir,
  fallbackModel: settings.fallbackModel,
  modelSettings: settings.modelSettings,
  contextSize: settings.contextSize,
  parallel: settings.parallel,
  threads: settings.threads,
  maxQueue: settings.maxQueue,
  backgroundSequences: settings.backgroundSequences,
  embeddingBatch: settings.embeddingBatch,
  idleTtlMs: settings.idleTtlMs,
  maxLoadedModels: settings.maxLoadedModels,
  log: { info: (obj, msg) => log('info', obj, msg) },
  metrics,
});
const provider = new LlamaProvider(runtime, models);

async function stats(): Promise<RuntimeStats> {
  const loading = models.loadingIds();
  const result: RuntimeStats = { backend: runtime.backend ?? null, loaded: models.loadedIds(), models: {}, loading };
  for (const id of result.loaded) {
    if (loading.includes(id)) continue; // do not wait for a load to finish
    const model = await models.get(id).catch(() => undefined);
    if (!model) continue;
    const { sequences } = model;
    result.models[id] = {
      parallel: sequences.size,
      contextSize: model.contextSize,
      active: sequences.active,
      queued: sequences.queued,
      evaluatedTokens: sequences.evaluatedTokens,
      queuedByPriority: sequences.queuedByPriority,
      memoryBytes: model.memoryBytes,
      embeddedInputs: model.embeddedInputs,
    };
  }
  return result;
}

/** Runs one generation: validates, reports `accepted`, waits for `start`, streams the events. */
async function generate(port: MessagePort, begin: (signal: AbortSignal) => Promise<Generation>): Promise<void> {
  const send = (message: FromGeneration) => port.postMessage(message);
  const controller = new AbortController();
  let start!: () => void;
  const started = new Promise<void>((resolve) => (start = resolve));
  port.on('message', (message: ToGeneration) => message.type === 'start' && start());
  // The main side closes its end when it is done with the stream (or gone): stop working for it.
  port.on('close', () => controller.abort(new Error('The client went away.')));
  try {
    const generation = await begin(controller.signal);
    send({ type: 'accepted', promptTokens: generation.promptTokens, maxTokens: generation.maxTokens });
    await Promise.race([started, new Promise((resolve) => controller.signal.addEventListener('abort', resolve, { once: true }))]);
    if (controller.signal.aborted) return;
    for await (const event of generation.events) send({ type: 'event', event });
  } catch (error) {
    if (!controller.signal.aborted) send({ type: 'error', error: toPortableError(error) });
  } finally {
    port.close();
  }
}

/** Runs `work` with a signal that aborts once the main thread sets the call's cancel flag
 *  (checked every 20 ms, while the thread is between steps of the work). */
async function whileWanted<T>(cancel: CancelFlag | undefined, work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (!cancel) return work(undefined);
  const controller = new AbortController();
  const check = () => {
    if (Atomics.load(cancel, 0) !== 1) return;
    clearInterval(timer);
    controller.abort(new Error('The client went away.'));
  };
  const timer = setInterval(check, 20);
  check();
  try {
    return await work(controller.signal);
  } finally {
    clearInterval(timer);
  }
}

async function result<T>(work: () => Promise<T>): Promise<TaskResult<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: toPortableError(error) };
  }
}

export default async function handle(task: RuntimeTask): Promise<unknown> {
  switch (task.call) {
    case 'chat':
      return generate(task.port, (signal) => provider.chat({ ...task.request, signal }));
    case 'complete':
      return generate(task.port, (signal) => provider.complete({ ...task.request, signal }));
    case 'embed':
      return result(() => whileWanted(task.cancel, (signal) => provider.embed({ ...task.request, signal })));
    case 'countChatTokens':
      return result(() => whileWanted(task.cancel, (signal) => provider.countChatTokens({ ...task.request, signal })));
    case 'loaded':
      // Answered once this module (node-llama-cpp included) is loaded: piscina runs no task before.
      return result(async () => null);
    case 'ready':
      return result(async () => {
        await runtime.llama();
        return runtime.backend ?? null;
      });
    case 'stats':
      return result(stats);
    case 'metrics':
      return result(() => metrics.registry.metrics());
    case 'load':
      return result(async () => {
        await models.get(task.model);
      });
    case 'unload':
      return result(() => models.unloadNow(task.model));
    case 'dispose':
      return result(async () => {
        await provider.dispose();
        await runtime.dispose();
        logs.close();
      });
  }
}
