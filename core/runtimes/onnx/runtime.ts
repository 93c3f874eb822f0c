import path from 'node:path';
import type { Piscina } from 'piscina';
import { ApiError } from '../../errors/index.js';
import { createRuntimePool, siblingModule } from '../worker/workerPool.js';
import type { EmbeddingModelStats, EmbeddingOutput } from './embeddingModel.js';
import { fromPortableError, type OnnxRuntimeSettings, type OnnxTask, type OnnxTaskResults, type TaskResult } from './protocol.js';

const DEFAULT_SETTINGS: OnnxRuntimeSettings = { intraOpThreads: 1, batchWindowMs: 2, maxBatchSize: 32 };

/** ONNX sentence-embedding models as the main thread sees them: every call goes to one runtime
 *  thread (host.ts) that holds all loaded models. The thread starts on the first call, so a
 *  server without ONNX models never pays for it. Models are named by their directory. */
export class OnnxEmbeddingRuntime {
  private readonly settings: OnnxRuntimeSettings;
  private pool: Piscina | undefined;
  private disposed = false;

  constructor(settings: Partial<OnnxRuntimeSettings> = {}) {
    this.settings = { ...DEFAULT_SETTINGS, ...settings };
  }

  /** Embeds `inputs` with the model in `dir`, loading it on first use. Concurrent calls share batches. */
  embed(dir: string, inputs: (string | number[])[]): Promise<EmbeddingOutput> {
    return this.call({ call: 'embed', dir: path.resolve(dir), inputs });
  }

  /** Per loaded model (by directory): batches run, sequences and tokens embedded. */
  stats(): Promise<Record<string, EmbeddingModelStats>> {
    return this.pool ? this.call({ call: 'stats' }) : Promise.resolve({});
  }

  /** Frees a model's session; the next request loads it again. */
  async unload(dir: string): Promise<void> {
    if (this.pool) await this.call({ call: 'unload', dir: path.resolve(dir) });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (!this.pool) return;
    await this.call({ call: 'dispose' }).catch(() => {});
    await this.pool.destroy();
  }

  private async call<Task extends OnnxTask>(task: Task): Promise<OnnxTaskResults[Task['call']]> {
    if (this.disposed && task.call !== 'dispose') throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry against the restarted server.');
    this.pool ??= createRuntimePool(siblingModule('host', import.meta.url), { ...this.settings });
    const result = (await this.pool.run(task)) as TaskResult<OnnxTaskResults[Task['call']]>;
    if (!result.ok) throw fromPortableError(result.error);
    return result.value;
  }
}
