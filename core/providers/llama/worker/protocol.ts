import type { MessagePort } from 'node:worker_threads';
import { ApiError, type ErrorCode } from '../../../errors/index.js';
import type { ChatRequest, CompletionRequest, EmbeddingRequest, GenerationEvent } from '../../types.js';
import type { EmbeddingBatchSettings } from '../../../runtimes/llama/loadedModel.js';

/** Requests cross the thread boundary without their AbortSignal; aborts travel as messages. */
type Portable<T> = Omit<T, 'signal'>;

/** A task sent to the runtime thread. Generations get a port for their events; other calls
 *  return their value as the task's result. */
export type RuntimeTask =
  | { call: 'chat'; request: Portable<ChatRequest>; port: MessagePort }
  | { call: 'complete'; request: Portable<CompletionRequest>; port: MessagePort }
  | { call: 'embed'; request: Portable<EmbeddingRequest>; cancel?: CancelFlag }
  | { call: 'countChatTokens'; request: ChatTokensRequest; cancel?: CancelFlag }
  | { call: 'loaded' }
  | { call: 'ready' }
  | { call: 'stats' }
  | { call: 'metrics' }
  | { call: 'dispose' }
  | { call: 'load'; model: string }
  | { call: 'unload'; model: string };

/** Set to 1 by the main thread when the caller of a non-generation call has gone (a
 *  SharedArrayBuffer, so the runtime thread sees it between steps without a message turn). */
export type CancelFlag = Int32Array;

/** What a chat prompt is made of: the messages, and the tools the template documents. */
export type ChatTokensRequest = Pick<ChatRequest, 'model' | 'messages' | 'tools' | 'toolChoice'>;

/** Messages from the main thread to a generation. To abort it, the main thread closes its port. */
export type ToGeneration = { type: 'start' };

/** Messages from a generation to the main thread. */
export type FromGeneration =
  | { type: 'accepted'; promptTokens: number; maxTokens: number }
  | { type: 'event'; event: GenerationEvent }
  | { type: 'error'; error: PortableError };

/** Non-generation calls resolve to this, so that an ApiError keeps its code across threads
 *  (a thrown error would reach the main thread as a plain Error). */
export type TaskResult<T> = { ok: true; value: T } | { ok: false; error: PortableError };

export interface PortableError {
  code?: ErrorCode;
  message: string;
  param?: string | null;
  headers?: Record<string, string>;
  name?: string;
}

export function toPortableError(error: unknown): PortableError {
  if (error instanceof ApiError) return { code: error.code, message: error.message, param: error.param, headers: error.headers };
  const plain = error as Error;
  return { message: plain?.message ?? String(error), name: plain?.name };
}

export function fromPortableError(error: PortableError): Error {
  if (error.code) return new ApiError(error.code, error.message, error.param ?? null, error.headers ?? {});
  const plain = new Error(error.message);
  if (error.name) plain.name = error.name;
  return plain;
}

/** Where the runtime thread is in its start-up, as /readyz reports it: loading its modules
 *  (`starting`), loading the llama.cpp binding (`warming`), able to serve, or failed to load it. */
export type RuntimePhase = { status: 'starting' | 'warming'; reason: string } | { status: 'ready' } | { status: 'failed'; reason: string };

/** What the runtime thread reports about its models, for /readyz, tests and the admin UI. */
export interface RuntimeStats {
  backend: string | null;
  loaded: string[];
  models: Record<string, { parallel: number; contextSize: number; active: number; queued: number; evaluatedTokens: number; embeddedInputs: number } & RuntimeModelFigures>;
  /** Models being loaded now (also in `loaded`). */
  loading?: string[];
}

/** Per loaded model, for the admin API. */
export interface RuntimeModelFigures {
  queuedByPriority?: { interactive: number; background: number };
  /** node-llama-cpp's size of the weights plus the context state. */
  memoryBytes?: number;
}

/** The runtime thread's settings: everything it needs, as plain data. */
export interface RuntimeSettings {
  modelsDir: string;
  fallbackModel?: string;
  modelSettings: Readonly<Record<string, { parallel?: number | 'auto'; context_size?: number }>>;
  contextSize: number;
  parallel: number | 'auto';
  threads: number;
  maxQueue: number;
  /** Sequences of a model that background (batch) work may hold at once. */
  backgroundSequences: number | 'auto';
  /** How concurrent embedding inputs are grouped (embedding_batch*; false: one at a time). */
  embeddingBatch: EmbeddingBatchSettings | false;
  idleTtlMs: number;
  maxLoadedModels: number;
  gpu: 'auto' | boolean;
  /** Where llmsvc's optional fast addon is built (undefined: .cache/fast-addon; see fastAddon.ts). */
  fastAddonDir?: string;
  /** Where a passed binary test of the prebuilt addon is remembered (LlamaRuntimeOptions.binaryCheckFile). */
  binaryCheckFile?: string;
  /** BroadcastChannel name on which the thread sends its log lines. */
  logChannel: string;
}

export interface RuntimeLogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object;
  msg: string;
}
