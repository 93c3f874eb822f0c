import { ApiError, type ErrorCode } from '../../errors/index.js';
import type { EmbeddingModelStats, EmbeddingOutput } from './embeddingModel.js';

/** The ONNX runtime thread's settings, as plain data. */
export interface OnnxRuntimeSettings {
  /** onnxruntime's intra-op threads per run; default 1 (leave the event loop a core). */
  intraOpThreads: number;
  /** How long a request waits for others to share its batch; default 2 ms. */
  batchWindowMs: number;
  /** The most inputs in one run; default 32. */
  maxBatchSize: number;
}

/** A task for the ONNX runtime thread. Models are named by their directory. */
export type OnnxTask =
  | { call: 'embed'; dir: string; inputs: (string | number[])[] }
  | { call: 'stats' }
  | { call: 'unload'; dir: string }
  | { call: 'dispose' };

export interface OnnxTaskResults {
  embed: EmbeddingOutput;
  stats: Record<string, EmbeddingModelStats>;
  unload: void;
  dispose: void;
}

/** Every task resolves to this, so an ApiError keeps its code across threads (a thrown error
 *  would arrive in the main thread as a plain Error). */
export type TaskResult<T> = { ok: true; value: T } | { ok: false; error: PortableError };

export interface PortableError {
  code?: ErrorCode;
  message: string;
  param?: string | null;
  name?: string;
}

export function toPortableError(error: unknown): PortableError {
  if (error instanceof ApiError) return { code: error.code, message: error.message, param: error.param };
  const plain = error as Error;
  return { message: plain?.message ?? String(error), name: plain?.name };
}

export function fromPortableError(error: PortableError): Error {
  if (error.code) return new ApiError(error.code, error.message, error.param ?? null);
  const plain = new Error(error.message);
  if (error.name) plain.name = error.name;
  return plain;
}
