import { ApiError } from '../../errors/index.js';

/** How an upstream call failed: it answered with an error status, could not be reached, or was too slow. */
export type UpstreamFailureKind = 'http' | 'connection' | 'timeout';

/** An upstream's failure in llmsvc's terms. `upstreamStatus` is what the upstream answered (if it
 *  answered); `kind`, `retryable` and `retryAfterMs` tell the resilience layer what it may do next. */
export class UpstreamError extends ApiError {
  readonly kind: UpstreamFailureKind;

  constructor(
    code: ConstructorParameters<typeof ApiError>[0],
    message: string,
    readonly upstreamStatus: number | undefined,
    readonly retryable: boolean,
    readonly retryAfterMs: number | undefined,
    headers: Record<string, string> = {},
  ) {
    super(code, message, null, headers);
    this.kind = upstreamStatus !== undefined ? 'http' : code === 'LLMSVC_ERR_UPSTREAM_TIMEOUT' ? 'timeout' : 'connection';
  }
}

/** What both official SDKs' errors carry: an HTTP status and headers when the upstream answered. */
interface SdkErrorLike {
  name?: string;
  /** undici's error code, from the openai-compatible provider's own client (upstream/http.ts). */
  code?: string;
  message?: string;
  status?: number;
  headers?: Headers | Record<string, string>;
}

function header(headers: SdkErrorLike['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  return (headers as Record<string, string>)[name];
}

/** Retry-After in seconds or as an HTTP date, or OpenAI's retry-after-ms, in milliseconds. */
export function retryAfterMsOf(headers: SdkErrorLike['headers'], now = Date.now()): number | undefined {
  const milliseconds = Number(header(headers, 'retry-after-ms'));
  if (Number.isFinite(milliseconds) && milliseconds >= 0 && header(headers, 'retry-after-ms') !== undefined) return milliseconds;
  const value = header(headers, 'retry-after');
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** The upstream's own sentence, without the SDK's "400 " status prefix. */
function upstreamSentence(error: SdkErrorLike): string {
  return (error.message ?? 'no message').replace(/^\d{3}\s+/, '');
}

/** Maps an SDK error (openai or @anthropic-ai/sdk; both name their classes alike), or an error of
 *  upstream/http.ts (an UpstreamHttpFailure has the same status, headers and message; undici's
 *  errors have a code), to an UpstreamError, once per provider call. Aborts by our own signal pass through unchanged. */
export function upstreamErrorFrom(providerId: string, error: unknown, signal?: AbortSignal): unknown {
  if (error instanceof ApiError) return error;
  if (signal?.aborted) return signal.reason ?? error;
  const sdkError = error as SdkErrorLike;
  const who = `upstream provider "${providerId}"`;
  if (sdkError?.name === 'APIConnectionTimeoutError' || sdkError?.code === 'UND_ERR_HEADERS_TIMEOUT' || sdkError?.code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamError('LLMSVC_ERR_UPSTREAM_TIMEOUT', `${who} did not answer in time. Try again; if it persists, the operator should check it.`, undefined, true, undefined);
  }
  const status = typeof sdkError?.status === 'number' ? sdkError.status : undefined;
  if (status === undefined) {
    return new UpstreamError(
      'LLMSVC_ERR_UPSTREAM_UNAVAILABLE',
      `${who} could not be reached (${sdkError?.message ?? String(error)}). Try again; if it persists, the operator should check the provider's base_url.`,
      undefined,
      true,
      undefined,
    );
  }
  const retryAfterMs = retryAfterMsOf(sdkError.headers);
  const retryHeaders: Record<string, string> = retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  if (status === 429) {
    return new UpstreamError('LLMSVC_ERR_UPSTREAM_RATE_LIMITED', `${who} is rate limiting llmsvc: ${upstreamSentence(sdkError)} Retry after the time in Retry-After.`, status, true, retryAfterMs, retryHeaders);
  }
  if (status === 401 || status === 403) {
    return new UpstreamError('LLMSVC_ERR_UPSTREAM_UNAVAILABLE', `${who} refused llmsvc's credentials (HTTP ${status}). The operator should check the provider's API key.`, status, false, undefined);
  }
  if (status === 408 || status === 409 || status >= 500) {
    return new UpstreamError('LLMSVC_ERR_UPSTREAM_UNAVAILABLE', `${who} failed (HTTP ${status}: ${upstreamSentence(sdkError)}). Try again later.`, status, true, retryAfterMs, retryHeaders);
  }
  return new UpstreamError('LLMSVC_ERR_UPSTREAM_REJECTED', `${who} rejected the request (HTTP ${status}): ${upstreamSentence(sdkError)}`, status, false, undefined);
}
