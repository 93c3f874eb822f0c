import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { BroadcastChannel, MessageChannel } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { ApiError } from '../../../errors/index.js';
import { ModelCatalog } from '../../../runtimes/llama/modelFiles.js';
import { createRuntimePool } from '../../../runtimes/worker/workerPool.js';
import { generationStream } from '../../generationStream.js';
import type { ChatRequest, CompletionRequest, EmbeddingRequest, EmbeddingResult, Generation, Provider, ProviderModel } from '../../types.js';
import { fromPortableError, type CancelFlag, type ChatTokensRequest, type FromGeneration, type RuntimeLogLine, type RuntimePhase, type RuntimeSettings, type RuntimeStats, type RuntimeTask, type TaskResult, type ToGeneration } from './protocol.js';
import { runtimeModule } from './runtimeModule.js';

export type LocalRuntimeSettings = Omit<RuntimeSettings, 'logChannel'>;

export interface WorkerLlamaProviderOptions {
  /** Readiness is reported only once this settles too: tests hold start-up in its warming phase
   *  to watch what the server answers meanwhile. */
  readyAfter?: Promise<void>;
  /** false: no runtime thread at all, for an HTTP worker of `serve --workers N` (which serves no
   *  local model: a model's runtime lives in one process). The provider then lists the models
   *  dir's files, is ready at once with no backend, and reports nothing loaded. */
  runtimeThread?: boolean;
}

/** The longest a stop waits for the runtime thread to finish loading llama.cpp. */
const llamaLoadWaitOnStopMs = 30_000;

/** A flag the runtime thread reads to stop a call whose caller has gone (piscina's own abort
 *  would terminate the thread, and every model with it). */
function cancelFlagFor(signal: AbortSignal | undefined): CancelFlag | undefined {
  if (!signal) return undefined;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const cancel = () => Atomics.store(flag, 0, 1);
  if (signal.aborted) cancel();
  else signal.addEventListener('abort', cancel, { once: true });
  return flag;
}

/** A model call where no runtime thread runs (an HTTP worker of `serve --workers N`). */
function noRuntime(model: string): ApiError {
  return new ApiError('LLMSVC_ERR_MODEL_NOT_FOUND', `Model '${model}' is a local model, and this HTTP worker of 'serve --workers N' runs no local models; serve them with workers 1.`, 'model');
}

/** The runtime thread's answers where none runs: nothing loaded, no figures, no model to run. */
function withoutRuntime(task: Exclude<RuntimeTask, { port: unknown }>): unknown {
  switch (task.call) {
    case 'stats':
      return { backend: null, loaded: [], models: {} } satisfies RuntimeStats;
    case 'metrics':
      return '';
    case 'dispose':
      return undefined;
    default:
      throw noRuntime('model' in task && typeof task.model === 'string' ? task.model : 'request' in task ? String((task.request as { model?: unknown }).model) : '?');
  }
}

/** The local models' provider as the HTTP side sees it: every call goes to the runtime thread
 *  (host.ts), where node-llama-cpp runs, so decoding never competes with request handling on
 *  the event loop. Listing models needs no model, so it is answered here. */
export class WorkerLlamaProvider implements Provider {
  readonly id = 'local';
  private readonly pool: Piscina | undefined;
  private readonly catalog: ModelCatalog;
  private readonly logs: BroadcastChannel | undefined;
  private readonly readiness: Promise<string | null>;
  private backend: string | null | undefined;
  private runtimePhase: RuntimePhase = { status: 'starting', reason: 'the runtime thread is loading its modules' };
  private disposed = false;
  /** Settles when the runtime thread has finished loading llama.cpp, whether or not it could. */
  private readonly llamaLoadSettled: Promise<void>;

  constructor(settings: LocalRuntimeSettings, onLog: (line: RuntimeLogLine) => void, options: WorkerLlamaProviderOptions = {}) {
    this.catalog = new ModelCatalog(settings.modelsDir, settings.fallbackModel);
    if (options.runtimeThread === false) {
      this.backend = null;
      this.runtimePhase = { status: 'ready' };
      this.readiness = Promise.resolve(null);
      this.llamaLoadSettled = Promise.resolve();
      return;
    }
    const logChannel = `llmsvc-runtime-${randomUUID()}`;
    this.logs = new BroadcastChannel(logChannel);
    this.logs.onmessage = (message) => onLog((message as { data: RuntimeLogLine }).data);
    const module = runtimeModule(import.meta.url);
    onLog({ level: 'debug', obj: { bundled: module.bundled, module: module.url.href }, msg: `runtime thread module: ${module.reason}` });
    this.pool = createRuntimePool(module.url, { ...settings, logChannel });
    this.call({ call: 'loaded' }).then(
      () => {
        if (this.runtimePhase.status === 'starting') this.runtimePhase = { status: 'warming', reason: 'the runtime thread is loading llama.cpp' };
      },
      () => {}, // the 'ready' call below fails the same way, and says so
    );
    const llamaLoaded = this.call<string | null>({ call: 'ready' });
    this.llamaLoadSettled = llamaLoaded.then(
      () => {},
      () => {},
    );
    this.readiness = llamaLoaded
      .then(async (backend) => {
        await options.readyAfter;
        return backend;
      })
      .then(
        (backend) => {
          this.backend = backend;
          this.runtimePhase = { status: 'ready' };
          return backend;
        },
        (error: unknown) => {
          this.runtimePhase = { status: 'failed', reason: `llama.cpp could not be loaded: ${(error as Error).message}` };
          throw error;
        },
      );
    this.readiness.catch(() => {}); // surfaced through phase, ready() and the start-up log
  }

  /** Where the runtime thread is in its start-up (for /readyz). */
  get phase(): RuntimePhase {
    return this.runtimePhase;
  }

  /** Resolves with the backend ('cpu', 'cuda', …) once llama.cpp is loaded in the runtime thread. */
  ready(): Promise<string | null> {
    return this.readiness;
  }

  get backendName(): string | null | undefined {
    return this.backend;
  }

  /** Whether a runtime thread runs (see WorkerLlamaProviderOptions.runtimeThread). */
  get hasRuntimeThread(): boolean {
    return this.pool !== undefined;
  }

  listModels(): ProviderModel[] {
    return this.catalog.list().map((file) => ({ id: file.id, created: file.created, ownedBy: 'llmsvc' }));
  }


  chat(request: ChatRequest): Promise<Generation> {
    return this.generation('chat', request);
  }

  complete(request: CompletionRequest): Promise<Generation> {
    return this.generation('complete', request);
  }

  embed({ signal, ...request }: EmbeddingRequest): Promise<EmbeddingResult> {
    return this.call({ call: 'embed', request, cancel: cancelFlagFor(signal) });
  }

  countChatTokens(request: ChatTokensRequest & { signal?: AbortSignal }): Promise<number> {
    const { model, messages, tools, toolChoice, signal } = request;
    return this.call({ call: 'countChatTokens', request: { model, messages, tools, toolChoice }, cancel: cancelFlagFor(signal) });
  }

  stats(): Promise<RuntimeStats> {
    return this.call({ call: 'stats' });
  }

  /** Loads a local model now (the operator asked), ahead of its first request. */
  async load(model: string): Promise<void> {
    await this.call({ call: 'load', model });
  }

  /** Unloads a local model now (the operator asked). */
  async unload(model: string): Promise<void> {
    await this.call({ call: 'unload', model });
  }

  /** The local model files: id, size and file name (never shown as a path). */
  modelFiles(): { id: string; bytes: number; file: string }[] {
    return this.catalog.list().map((file) => ({ id: file.id, bytes: file.bytes, file: path.basename(file.path) }));
  }

  /** The runtime thread's metrics, in Prometheus text. */
  metricsText(): Promise<string> {
    return this.call({ call: 'metrics' });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // A thread terminated while it loads llama.cpp's native library aborts the whole process
    // ("terminate called after throwing an instance of 'Napi::Error'"): a stop during warm-up
    // waits for the load to end first (bounded: a hung load must not hold the stop for ever).
    await Promise.race([this.llamaLoadSettled, sleep(llamaLoadWaitOnStopMs, undefined, { ref: false })]);
    await this.call({ call: 'dispose' }).catch(() => {});
    await this.pool?.destroy();
    this.logs?.close();
  }

  private async call<T>(task: Exclude<RuntimeTask, { port: unknown }>): Promise<T> {
    if (this.disposed && task.call !== 'dispose') throw new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry against the restarted server.');
    if (!this.pool) return withoutRuntime(task) as T;
    const result = (await this.pool.run(task)) as TaskResult<T>;
    if (!result.ok) throw fromPortableError(result.error);
    return result.value;
  }

  /** A generation in the runtime thread: resolves once it was validated there (so a bad request
   *  fails before any stream opens); its events start flowing when first read. */
  private generation(call: 'chat' | 'complete', { signal, ...request }: ChatRequest | CompletionRequest): Promise<Generation> {
    if (this.disposed) return Promise.reject(new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The server is shutting down; retry against the restarted server.'));
    if (!this.pool) return Promise.reject(noRuntime(request.model));
    const { port1: port, port2 } = new MessageChannel();
    const send = (message: ToGeneration) => port.postMessage(message);
    const task = { call, request, port: port2 } as RuntimeTask;
    this.pool.run(task, { transferList: [port2] }).catch((error: unknown) => port.emit('message', { type: 'error', error: { message: (error as Error).message } }));
    return new Promise((resolve, reject) => {
      let onEvent: ((message: FromGeneration) => void) | undefined;
      port.on('message', (message: FromGeneration) => {
        if (message.type === 'accepted') {
          resolve({ promptTokens: message.promptTokens, maxTokens: message.maxTokens, events: events() });
        } else if (onEvent) {
          onEvent(message);
        } else if (message.type === 'error') {
          port.close();
          reject(fromPortableError(message.error));
        }
      });
      const events = () =>
        generationStream((emit, streamSignal) => {
          streamSignal.addEventListener('abort', () => port.close(), { once: true });
          return new Promise((finish, fail) => {
            onEvent = (message) => {
              if (message.type === 'error') {
                port.close();
                fail(fromPortableError(message.error));
              } else if (message.type === 'event') {
                const { event } = message;
                if (event.type !== 'end') return emit(event);
                port.close();
                const { type: _type, ...outcome } = event;
                finish(outcome);
              }
            };
            send({ type: 'start' });
          });
        }, signal);
      signal?.addEventListener(
        'abort',
        () => {
          port.close();
          reject(signal.reason instanceof Error ? signal.reason : new Error('aborted')); // no-op once accepted
        },
        { once: true },
      );
    });
  }
}
