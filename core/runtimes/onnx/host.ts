import { workerData } from 'node:worker_threads';
import { OnnxEmbeddingModel } from './embeddingModel.js';
import { toPortableError, type OnnxRuntimeSettings, type OnnxTask, type TaskResult } from './protocol.js';

// The ONNX runtime thread: sessions, tokenizers and batchers live here, so tokenizing, padding,
// pooling and onnxruntime's (synchronous) runs never block the HTTP event loop. Piscina calls the
// default export once per task, many at a time; the models below persist between tasks.

const settings = workerData as OnnxRuntimeSettings;
const models = new Map<string, Promise<OnnxEmbeddingModel>>();

function model(dir: string): Promise<OnnxEmbeddingModel> {
  let loading = models.get(dir);
  if (!loading) {
    loading = OnnxEmbeddingModel.load(dir, settings);
    models.set(dir, loading);
    // A failed load is not cached: the next request retries (e.g. after a missing file was copied in).
    loading.catch(() => models.delete(dir));
  }
  return loading;
}

async function loadedModels(): Promise<[string, OnnxEmbeddingModel][]> {
  const settled = await Promise.allSettled([...models].map(async ([dir, loading]) => [dir, await loading] as const));
  return settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [[...outcome.value] as [string, OnnxEmbeddingModel]] : []));
}

async function unload(dir: string): Promise<void> {
  const loading = models.get(dir);
  models.delete(dir);
  await (await loading?.catch(() => undefined))?.dispose();
}

async function run(task: OnnxTask): Promise<unknown> {
  switch (task.call) {
    case 'embed':
      return (await model(task.dir)).embed(task.inputs);
    case 'stats':
      return Object.fromEntries((await loadedModels()).map(([dir, loaded]) => [dir, loaded.stats()]));
    case 'unload':
      return unload(task.dir);
    case 'dispose':
      await Promise.all([...models.keys()].map(unload));
      return undefined;
  }
}

export default async function handle(task: OnnxTask): Promise<TaskResult<unknown>> {
  try {
    return { ok: true, value: await run(task) };
  } catch (error) {
    return { ok: false, error: toPortableError(error) };
  }
}
