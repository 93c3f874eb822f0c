import { ApiError, type ErrorCode } from '../errors/index.js';
import type { QuotaUsage } from '../auth/index.js';
import type { ApiKeyRecord } from '../store/index.js';

/** Messages between the primary of `llmsvc serve --workers N` and its HTTP workers, over the
 *  cluster IPC channel. Every message of ours carries `llmsvc: true`, so that the channel can be
 *  shared with prom-client's metric requests and node's own cluster messages. */

/** The env var the primary sets on each worker it forks: the worker's slot (0 runs the
 *  once-per-box work). Read by the serve command, not core/config: it is the cluster's, not a setting. */
export const workerIndexEnv = 'LLMSVC_CLUSTER_WORKER_INDEX';

/** What the limiter reads of a key: its id and limits (the rest of the record stays in the worker). */
export type KeyLimits = Pick<ApiKeyRecord, 'id' | 'rpm' | 'tpm' | 'maxConcurrent' | 'dailyTokens' | 'monthlyTokens'>;

export function keyLimits(key: ApiKeyRecord): KeyLimits {
  return { id: key.id, rpm: key.rpm, tpm: key.tpm, maxConcurrent: key.maxConcurrent, dailyTokens: key.dailyTokens, monthlyTokens: key.monthlyTokens };
}

/** A worker's question to the primary; the primary answers with a Reply of the same id. */
export type WorkerRequest =
  | { op: 'admit'; key: KeyLimits; reserveTokens?: number; usage?: QuotaUsage }
  | { op: 'reserve'; key: KeyLimits; tokens: number; usage?: QuotaUsage }
  /** A failed authentication from the address; answered with the milliseconds it must wait. */
  | { op: 'authFailure'; address: string }
  | { op: 'metrics' }
  | { op: 'live' };

/** A worker's notice to the primary (no answer). */
export type WorkerNotice = { op: 'release'; slot: number } | { op: 'settle'; reservation: number; tokens: number };

export type Envelope<T> = T & { llmsvc: true; id?: number };

export interface SerializedApiError {
  code: ErrorCode;
  message: string;
  param: string | null;
  headers: Record<string, string>;
}

export function serializeApiError(error: ApiError): SerializedApiError {
  return { code: error.code, message: error.message, param: error.param, headers: error.headers };
}

export function deserializeApiError(error: SerializedApiError): ApiError {
  return new ApiError(error.code, error.message, error.param, error.headers);
}

export interface AdmitReply {
  slot: number;
  reservation?: number;
  headers: Record<string, string>;
  refusal?: SerializedApiError;
}

export interface ReserveReply {
  reservation: number;
}

/** The primary's answer: a value, an ApiError (a 429) or another failure (a message). */
export type Reply = { llmsvc: true; id: number; value?: unknown; apiError?: SerializedApiError; failure?: string };

/** The primary's question to a worker (stats), answered with a Reply of the same id. */
export type PrimaryRequest = { op: 'live' };

/** The primary's notice to a worker: finish the requests in flight and exit 0. */
export type PrimaryNotice = { op: 'stop' };

export function isOurs(message: unknown): message is { llmsvc: true } {
  return typeof message === 'object' && message !== null && (message as { llmsvc?: unknown }).llmsvc === true;
}
