import { ApiError } from '../../errors/index.js';
import type { HeaderBag } from './retryAfter.js';

export type TimeoutPhase = 'connect' | 'first_byte' | 'whole_answer' | 'idle';

const phaseWords: Record<TimeoutPhase, string> = {
  connect: 'did not accept a connection',
  first_byte: 'did not start answering',
  whole_answer: 'did not answer',
  idle: 'stopped sending mid-stream for longer than',
};

/** An upstream attempt ran out of time. The policy aborts the attempt's signal with this error,
 *  so a provider that forwards `signal.reason` rejects with it too. */
export class UpstreamTimeoutError extends ApiError {
  override name = 'UpstreamTimeoutError';
  constructor(
    readonly phase: TimeoutPhase,
    readonly timeoutMs: number,
    readonly upstream: string,
  ) {
    super(
      'LLMSVC_ERR_UPSTREAM_TIMEOUT',
      `The upstream ${upstream} ${phaseWords[phase]} ${phase === 'idle' ? `${timeoutMs} ms` : `within ${timeoutMs} ms`}. ` +
        'Retry the request; if it keeps happening, the operator should check that upstream or raise its timeouts.',
    );
  }
}

/** Rejected at once, without calling the upstream, because its circuit breaker is open. */
export class CircuitOpenError extends ApiError {
  override name = 'CircuitOpenError';
  constructor(
    readonly upstream: string,
    readonly retryAfterMs: number,
  ) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(
      'LLMSVC_ERR_UPSTREAM_CIRCUIT_OPEN',
      `The upstream ${upstream} failed repeatedly, so llmsvc stopped sending it requests for a while. Retry in ${seconds} s.`,
      null,
      { 'retry-after': String(seconds) },
    );
  }
}

/** An upstream's HTTP error status, for providers that call fetch themselves (the SDKs throw their
 *  own APIError, which has the same `status` and `headers` and is classified alike). */
export class UpstreamHttpError extends Error {
  override name = 'UpstreamHttpError';
  constructor(
    readonly status: number,
    readonly headers: HeaderBag,
    message: string,
  ) {
    super(message);
  }
}

/** A response whose stream broke or ended without a single event: a protocol failure of the
 *  upstream, treated like a dropped connection. */
export class UpstreamProtocolError extends Error {
  override name = 'UpstreamProtocolError';
}
