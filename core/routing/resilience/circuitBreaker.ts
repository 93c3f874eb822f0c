import { CircuitOpenError } from './errors.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitTransition {
  upstream: string;
  from: CircuitState;
  to: CircuitState;
  at: number;
}

export interface CircuitBreakerOptions {
  /** Consecutive upstream faults that open the circuit. Consecutive rather than a rate over a
   *  window: one counter, no timers, and at LAN-appliance traffic a window would rarely fill. */
  failureThreshold: number;
  /** How long an open circuit rejects before letting one probe through. */
  coolDownMs: number;
  now?: () => number;
  /** Called on every state change: for metrics and logs. */
  onTransition?: (transition: CircuitTransition) => void;
}

export const defaultCircuitBreakerOptions = { failureThreshold: 5, coolDownMs: 30_000 } as const;

/** The right to send one request through a breaker, settled exactly once (later calls are
 *  ignored). `release` is for outcomes that say nothing about the upstream's health (the client
 *  left, the request was refused as invalid). */
export interface BreakerPermit {
  success(): void;
  failure(): void;
  release(): void;
}

/** One upstream's breaker: closed → open after `failureThreshold` consecutive faults; open rejects
 *  at once for `coolDownMs`; then half-open admits exactly one probe, whose success closes the
 *  circuit and whose failure opens it again. Open → half-open happens lazily when the breaker is
 *  next consulted, so it holds no timers. */
export class CircuitBreaker {
  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #openedAt = 0;
  #probeOut = false;
  readonly #now: () => number;

  constructor(
    readonly upstream: string,
    private readonly options: CircuitBreakerOptions,
  ) {
    this.#now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.options.coolDownMs) this.#moveTo('half_open');
    return this.#state;
  }

  /** Consecutive failures counted towards opening the circuit (0 once it opened). */
  get failures(): number {
    return this.#consecutiveFailures;
  }

  /** Time left before an open circuit lets a probe through; 0 when not open. */
  get retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.#openedAt + this.options.coolDownMs - this.#now()) : 0;
  }

  /** A permit to send one request, or a CircuitOpenError thrown at once. */
  acquire(): BreakerPermit {
    const state = this.state;
    if (state === 'open') throw new CircuitOpenError(this.upstream, this.retryAfterMs);
    if (state === 'half_open') {
      if (this.#probeOut) throw new CircuitOpenError(this.upstream, 0);
      this.#probeOut = true;
      return this.#permit(true);
    }
    return this.#permit(false);
  }

  /** A fault seen after a permit was settled, e.g. a stream that broke after its first event. */
  recordFailure(): void {
    if (this.state === 'closed') this.#countFailure();
  }

  #permit(probe: boolean): BreakerPermit {
    let settled = false;
    const settle = (outcome: 'success' | 'failure' | 'release') => {
      if (settled) return;
      settled = true;
      if (probe) return this.#settleProbe(outcome);
      // Outcomes of requests sent before the circuit opened say nothing new: only closed counts.
      if (this.state !== 'closed') return;
      if (outcome === 'success') this.#consecutiveFailures = 0;
      else if (outcome === 'failure') this.#countFailure();
    };
    return { success: () => settle('success'), failure: () => settle('failure'), release: () => settle('release') };
  }

  #settleProbe(outcome: 'success' | 'failure' | 'release'): void {
    this.#probeOut = false;
    if (outcome === 'success') {
      this.#consecutiveFailures = 0;
      this.#moveTo('closed');
    } else if (outcome === 'failure') {
      this.#open();
    }
    // release: stay half-open; the next request becomes the probe.
  }

  #countFailure(): void {
    this.#consecutiveFailures += 1;
    if (this.#consecutiveFailures >= this.options.failureThreshold) this.#open();
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#consecutiveFailures = 0;
    this.#moveTo('open');
  }

  #moveTo(to: CircuitState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.options.onTransition?.({ upstream: this.upstream, from, to, at: this.#now() });
  }
}

/** The breakers of all upstreams, one per key (a provider id or a base URL), made on first use
 *  with shared options, or with each upstream's own (a function of the key). */
export class CircuitBreakers {
  readonly #breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions | ((upstream: string) => CircuitBreakerOptions)) {}

  get(upstream: string): CircuitBreaker {
    let breaker = this.#breakers.get(upstream);
    if (!breaker) {
      breaker = new CircuitBreaker(upstream, typeof this.options === 'function' ? this.options(upstream) : this.options);
      this.#breakers.set(upstream, breaker);
    }
    return breaker;
  }

  /** The breaker of an upstream if it has been used, without making one. */
  peek(upstream: string): CircuitBreaker | undefined {
    return this.#breakers.get(upstream);
  }

  /** Every known upstream's state, for a metrics gauge. */
  states(): { upstream: string; state: CircuitState }[] {
    return [...this.#breakers.values()].map((breaker) => ({ upstream: breaker.upstream, state: breaker.state }));
  }
}
