import { isApiError } from '../../errors/index.js';
import { CircuitOpenError, UpstreamProtocolError, UpstreamTimeoutError } from './errors.js';
import { parseRetryAfter, type HeaderBag } from './retryAfter.js';

export type FailureKind = 'http' | 'connection' | 'timeout' | 'circuit_open' | 'aborted' | 'other';

export interface Failure {
  kind: FailureKind;
  error: unknown;
  status?: number;
  /** What the upstream asked for (Retry-After, retry-after-ms), uncapped. */
  retryAfterMs?: number;
  /** Worth sending to the same target again. */
  retryable: boolean;
  /** Evidence the upstream itself is unwell: counts toward opening its circuit breaker. A 4xx or a
   *  429 shows a healthy upstream answering, so it does not count. */
  upstreamFault: boolean;
}

/** 4xx statuses that are about timing, not about the request: retrying may succeed. */
const retryableClientStatuses = new Set([408, 409, 429]);

const connectionErrorCodes = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_CLOSED',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  status?: unknown;
  statusCode?: unknown;
  headers?: unknown;
  cause?: unknown;
}

/** The error and its causes (fetch hides the socket error in `cause`), nearest first. */
function causeChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  for (let current = error; current && typeof current === 'object' && chain.length < 5; current = (current as ErrorLike).cause) {
    chain.push(current as ErrorLike);
  }
  return chain;
}

function isConnectionError(link: ErrorLike): boolean {
  if (typeof link.code === 'string' && connectionErrorCodes.has(link.code)) return true;
  if (link.name === 'APIConnectionError' || link instanceof UpstreamProtocolError) return true;
  const message = typeof link.message === 'string' ? link.message : '';
  return message === 'socket hang up' || message === 'fetch failed' || message === 'terminated' || message === 'other side closed';
}

function httpStatusOf(link: ErrorLike): number | undefined {
  const status = typeof link.status === 'number' ? link.status : link.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : undefined;
}

/** An error that already knows what it is (the upstream providers' UpstreamError, mapped once per
 *  provider from the SDK's error): its own verdict wins over guessing from status and name. */
interface SelfClassified {
  kind: 'http' | 'connection' | 'timeout';
  retryable: boolean;
  retryAfterMs?: number | undefined;
  /** What the upstream answered, when it answered. */
  upstreamStatus?: number | undefined;
  headers?: unknown;
}

function isSelfClassified(error: unknown): error is SelfClassified {
  const candidate = error as Partial<SelfClassified> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.retryable === 'boolean' &&
    (candidate.kind === 'http' || candidate.kind === 'connection' || candidate.kind === 'timeout')
  );
}

function fromSelfClassified(error: SelfClassified, now: number): Failure {
  const status = error.upstreamStatus;
  const retryAfterMs = error.retryAfterMs ?? parseRetryAfter(error.headers as HeaderBag | undefined, now);
  return {
    kind: error.kind,
    error,
    ...(status !== undefined && { status }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
    retryable: error.retryable,
    upstreamFault: error.kind !== 'http' || (status !== undefined && status >= 500),
  };
}

/** Sorts any error an attempt can end with (ours, a provider's UpstreamError or other ApiError,
 *  the OpenAI and Anthropic SDKs' errors, node and fetch socket errors) into what the policies
 *  need to know. */
export function classifyFailure(error: unknown, now: number): Failure {
  if (isSelfClassified(error)) return fromSelfClassified(error, now);
  if (error instanceof UpstreamTimeoutError) {
    return { kind: 'timeout', error, retryable: error.phase !== 'idle', upstreamFault: true };
  }
  if (error instanceof CircuitOpenError) {
    return { kind: 'circuit_open', error, retryAfterMs: error.retryAfterMs, retryable: false, upstreamFault: false };
  }
  const chain = causeChain(error);
  const head = chain[0] ?? {};
  if (head.name === 'AbortError' || head.name === 'APIUserAbortError') {
    return { kind: 'aborted', error, retryable: false, upstreamFault: false };
  }
  if (head.name === 'APIConnectionTimeoutError') {
    return { kind: 'timeout', error, retryable: true, upstreamFault: true };
  }
  const status = httpStatusOf(head);
  if (status !== undefined) {
    const retryAfterMs = parseRetryAfter(head.headers as HeaderBag | undefined, now);
    return {
      kind: 'http',
      error,
      status,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
      retryable: status >= 500 || retryableClientStatuses.has(status),
      upstreamFault: status >= 500,
    };
  }
  if (!isApiError(error) && chain.some(isConnectionError)) {
    return { kind: 'connection', error, retryable: true, upstreamFault: true };
  }
  return { kind: 'other', error, retryable: false, upstreamFault: false };
}

/** A failure the client caused and can fix (a 4xx other than the timing ones): trying elsewhere
 *  will not help, so it is the one to report. */
export function isClientFault(failure: Failure): boolean {
  // The status the client would get: an ApiError may already have turned an upstream's 401 into a 502.
  const status = isApiError(failure.error) ? failure.error.status : failure.status;
  return failure.kind === 'http' && status !== undefined && status >= 400 && status < 500 && !retryableClientStatuses.has(status);
}
