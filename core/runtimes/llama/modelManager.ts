import { ApiError } from '../../errors/index.js';
import { LoadedModel, type ModelLoadOptions } from './loadedModel.js';
import { ModelCatalog, modelNotFound, type ModelFile } from './modelFiles.js';
import type { LlamaRuntime } from './runtime.js';

export interface ModelManagerOptions extends ModelLoadOptions {
  modelsDir: string;
  /** A model served only while the models dir holds none (the generated smoke-tiny): a user's
   *  real models always take precedence. */
  fallbackModel?: string;
  /** Per-model overrides of `parallel` and `contextSize`, by model id. */
  modelSettings?: Readonly<Record<string, { parallel?: number | 'auto'; context_size?: number }>>;
  idleTtlMs: number;
  maxLoadedModels: number;
  log: { info(obj: object, msg: string): void };
}

/** The local GGUF models: finds them in the models dir, loads one on first use, unloads it after
 *  an idle TTL or to make room (least recently used first), and unloads all on dispose. */
export class ModelManager {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();
  /** Ids whose load has started and not yet finished. */
  private readonly loading = new Set<string>();
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly catalog: ModelCatalog;
  private disposed = false;

  constructor(
    private readonly runtime: LlamaRuntime,
    private readonly options: ModelManagerOptions,
  ) {
    this.catalog = new ModelCatalog(options.modelsDir, options.fallbackModel);
    this.sweepTimer = setInterval(() => void this.unloadIdle(), Math.min(options.idleTtlMs, 30_000));
    this.sweepTimer.unref();
  }

  list(): ModelFile[] {
    return this.catalog.list();
  }

  find(id: string): ModelFile | undefined {
    return this.catalog.find(id);
  }

  /** The ids of the models in memory now (and those being loaded). */
  loadedIds(): string[] {
    return [...this.loaded.keys()];
  }

  /** The ids of the models being loaded now. */
  loadingIds(): string[] {
    return [...this.loading];
  }

  async get(id: string): Promise<LoadedModel> {
    if (this.disposed) throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry against the restarted server.');
    const existing = this.loaded.get(id);
    if (existing) return existing;
    const file = this.find(id);
    if (!file) throw modelNotFound(id);
    // Registered before any await, so concurrent first requests share one load.
    const loading = this.makeRoom(id).then(() => this.load(file));
    this.loaded.set(id, loading);
    this.loading.add(id);
    loading.then(
      () => this.loading.delete(id),
      () => {
        this.loading.delete(id);
        this.loaded.delete(id);
      },
    );
    return loading;
  }

  private async load(file: ModelFile): Promise<LoadedModel> {
    const started = performance.now();
    const llama = await this.runtime.llama();
    const settings = this.options.modelSettings?.[file.id];
    const model = await LoadedModel.load(llama, file, {
      ...this.options,
      parallel: settings?.parallel ?? this.options.parallel,
      contextSize: settings?.context_size ?? this.options.contextSize,
    });
    const seconds = (performance.now() - started) / 1000;
    this.options.metrics.modelLoadSeconds.observe({ model: file.id }, seconds);
    this.options.metrics.modelsLoaded.set(this.loaded.size);
    this.options.log.info({ model: file.id, seconds: Number(seconds.toFixed(3)), contextSize: model.contextSize, parallel: model.sequences.size }, 'model loaded');
    return model;
  }

  /** Unloads idle models, least recently used first, until `incoming` fits under the limit. */
  private async makeRoom(incoming: string): Promise<void> {
    for (;;) {
      const others = [...this.loaded].filter(([id]) => id !== incoming).map(([, loading]) => loading);
      if (others.length < this.options.maxLoadedModels) return;
      const models = await Promise.all(others.map((p) => p.catch(() => undefined)));
      const idle = models.filter((m): m is LoadedModel => m !== undefined && !m.busy).sort((a, b) => a.lastUsed - b.lastUsed);
      // All loaded models are busy: go over the limit for now rather than fail the request.
      if (idle.length === 0) return;
      await this.unload(idle[0]!.id, 'room for another model');
    }
  }

  private async unloadIdle(): Promise<void> {
    const now = Date.now();
    for (const loading of [...this.loaded.values()]) {
      const model = await loading.catch(() => undefined);
      if (model && !model.busy && now - model.lastUsed >= this.options.idleTtlMs) await this.unload(model.id, 'idle');
    }
  }

  /** Unloads a model now (the operator asked): new requests no longer reach this copy (a new
   *  request loads the model again), and the ones in flight finish before it is disposed —
   *  freeing a context that is decoding crashes llama.cpp. */
  async unloadNow(id: string): Promise<void> {
    if (!this.find(id) && !this.loaded.has(id)) throw modelNotFound(id);
    await this.unload(id, 'operator', true);
  }

  private async unload(id: string, reason: string, drain = false): Promise<void> {
    const loading = this.loaded.get(id);
    if (!loading) return;
    this.loaded.delete(id);
    this.options.metrics.modelsLoaded.set(this.loaded.size);
    const model = await loading.catch(() => undefined);
    while (drain && model?.busy) await new Promise((resolve) => setTimeout(resolve, 25));
    await model?.dispose();
    this.options.log.info({ model: id, reason }, 'model unloaded');
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.sweepTimer);
    for (const id of [...this.loaded.keys()]) await this.unload(id, 'shutdown');
  }
}
