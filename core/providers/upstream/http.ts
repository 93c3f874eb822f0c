import { Pool, type Dispatcher } from 'undici';

/** What an upstream answered when it answered with an error status: its status, its headers (for
 *  Retry-After) and its own sentence, in the shape `upstreamErrorFrom` reads (the same fields the
 *  official SDKs' APIError has). */
export class UpstreamHttpFailure extends Error {
  override readonly name = 'UpstreamHttpFailure';
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    message: string,
  ) {
    super(message);
  }
}

/** An error the upstream reported inside a 2xx stream (`data: {"error":{…}}`): it has no status,
 *  as with the SDK, so it maps to an unavailable upstream. */
export class UpstreamStreamError extends Error {
  override readonly name = 'UpstreamStreamError';
}

/** The most of an error body kept to find the upstream's message in. */
const maxErrorBodyBytes = 64 * 1024;

export interface UpstreamHttpOptions {
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`; absent: no Authorization header. Never logged. */
  apiKey?: string;
  connectTimeoutMs: number;
  /** Deadline for the response headers: a backstop behind the resilience layer's timeouts. */
  headersTimeoutMs: number;
}

/** One upstream's HTTP client on undici's low-level API: a keep-alive connection pool for the base
 *  URL's origin, requests dispatched with a handler that hands each body chunk (a Node Buffer)
 *  straight to the caller. No WHATWG streams, no Request/Response objects, no per-request
 *  AbortController: the caller's AbortSignal aborts the dispatched request (its socket is closed,
 *  so the upstream sees the client go) and the call rejects with the signal's reason. */
export class UpstreamHttp {
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly search: string;
  /** An ES private field: it holds the key, and must never end up in a log or a JSON dump. */
  readonly #headers: string[];
  private disposed = false;

  constructor(options: UpstreamHttpOptions) {
    const url = new URL(options.baseUrl);
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.search = url.search;
    this.pool = new Pool(url.origin, {
      connect: { timeout: options.connectTimeoutMs },
      keepAliveTimeout: 30_000,
      headersTimeout: options.headersTimeoutMs,
    });
    this.#headers = ['content-type', 'application/json', 'user-agent', 'llmsvc'];
    if (options.apiKey !== undefined) this.#headers.push('authorization', `Bearer ${options.apiKey}`);
  }

  /** POSTs `body` (JSON text) to `<base URL><path>` and calls `onData` with each chunk of a 2xx
   *  response body. Resolves when the body has ended. Rejects with an UpstreamHttpFailure for a
   *  non-2xx answer, with undici's error for a failed connection, with the error `onData` threw
   *  (the request is then aborted), or with `signal.reason` once `signal` aborts. */
  post(path: string, body: string, signal: AbortSignal | undefined, onData: (chunk: Buffer) => void, traceparent?: string): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.disposed) return Promise.reject(new Error('The upstream client was disposed.'));
    return new Promise<void>((resolve, reject) => {
      const handler = new PostHandler(signal, onData, resolve, reject);
      // A traced attempt names its span to the upstream (W3C Trace Context).
      const headers = traceparent === undefined ? this.#headers : [...this.#headers, 'traceparent', traceparent];
      this.pool.dispatch({ path: this.basePath + path + this.search, method: 'POST', headers, body }, handler);
    });
  }

  /** POSTs `body` and parses the 2xx JSON answer (errors as for `post`). */
  async postJson(path: string, body: string, signal: AbortSignal | undefined, traceparent?: string): Promise<unknown> {
    const chunks: Buffer[] = [];
    await this.post(path, body, signal, (chunk) => void chunks.push(chunk), traceparent);
    const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
    return JSON.parse(text);
  }

  /** Waits for requests in flight, then closes the pool's connections. */
  dispose(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.disposed = true;
    return this.pool.close();
  }
}

/** The dispatch handler of one POST: settles its promise once (the first of end, error, abort). */
class PostHandler implements Dispatcher.DispatchHandlers {
  private abortRequest: ((error?: Error) => void) | undefined;
  private settled = false;
  private status = 0;
  /** Set for a non-2xx answer: its raw headers and the first bytes of its body. */
  private errorHeaders: Buffer[] | undefined;
  private errorBody: Buffer[] | undefined;
  private errorBytes = 0;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly sink: (chunk: Buffer) => void,
    private readonly resolve: () => void,
    private readonly reject: (error: unknown) => void,
  ) {
    if (signal) {
      this.onAbort = () => {
        // Reject at once, also while the request still waits for a connection in the pool; the
        // request itself is aborted now if it is on a connection, else as soon as it gets one.
        this.fail(signal.reason);
        this.abortRequest?.(signal.reason as Error);
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  onConnect(abort: (error?: Error) => void): void {
    if (this.settled) abort(this.signal?.reason as Error | undefined);
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true; // 1xx: the real answer follows
    this.status = statusCode;
    if (statusCode >= 300) {
      this.errorHeaders = rawHeaders;
      this.errorBody = [];
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return true;
    if (this.errorBody) {
      if (this.errorBytes < maxErrorBodyBytes) {
        this.errorBody.push(chunk);
        this.errorBytes += chunk.length;
      }
      return true;
    }
    try {
      this.sink(chunk);
    } catch (error) {
      this.fail(error);
      this.abortRequest?.(error as Error);
    }
    return true;
  }

  onComplete(): void {
    if (this.errorBody) this.fail(httpFailureOf(this.status, this.errorHeaders ?? [], Buffer.concat(this.errorBody).toString('utf8')));
    else this.succeed();
  }

  onError(error: Error): void {
    this.fail(this.signal?.aborted ? this.signal.reason : error);
  }

  private succeed(): void {
    if (this.settled) return;
    this.settled = true;
    this.unlink();
    this.resolve();
  }

  private fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.unlink();
    this.reject(error);
  }

  private unlink(): void {
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
  }
}

/** The upstream's own sentence from an error body, as the openai SDK finds it: `error.message`,
 *  else the `error` object as JSON, else the body's text. */
export function upstreamMessageOf(bodyText: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bodyText);
  } catch {
    return bodyText.trim() || 'status code (no body)';
  }
  const error = (parsed as { error?: unknown } | null)?.error as { message?: unknown } | undefined;
  if (error?.message !== undefined && error.message !== null && error.message !== '') {
    return typeof error.message === 'string' ? error.message : JSON.stringify(error.message);
  }
  if (error) return JSON.stringify(error);
  return bodyText.trim() || 'status code (no body)';
}

function httpFailureOf(status: number, rawHeaders: Buffer[], bodyText: string): UpstreamHttpFailure {
  const headers: Record<string, string> = {};
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    headers[rawHeaders[index]!.toString('latin1').toLowerCase()] = rawHeaders[index + 1]!.toString('latin1');
  }
  // "<status> <sentence>", as the SDKs word it; upstreamErrorFrom takes the status off again.
  return new UpstreamHttpFailure(status, headers, `${status} ${upstreamMessageOf(bodyText)}`);
}
