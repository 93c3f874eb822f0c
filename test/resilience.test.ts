import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isApiError } from '../core/errors/index.js';
import type { Generation, GenerationEvent } from '../core/providers/types.js';
import {
  CircuitBreakers,
  CircuitOpenError,
  UpstreamTimeoutError,
  backoffDelay,
  classifyFailure,
  generateWithFallback,
  parseRetryAfter,
  planAttemptOrder,
  systemResilienceClock,
  type CircuitTransition,
  type FailedAttempt,
  type ResilienceClock,
  type ResiliencePolicy,
  type RouteChain,
  type UpstreamTarget,
} from '../core/routing/resilience/index.js';
import { faults, startFaultProxy, type FaultProxy } from './support/faultProxy.js';
import { waitFor } from './support/wait.js';
import { startTinyUpstream, tinyAttempt, upstreamEvents, type TinyUpstream } from './support/tinyUpstream.js';

// Every test is bounded: if a policy ever let a request hang, the test fails instead of stalling.
const bounded = { timeout: 10_000 };

interface Target extends UpstreamTarget {
  url: string;
}

/** A deterministic random source (mulberry32), so statistical tests cannot flake. */
function seededRandom(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function collect(generation: Generation): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  for await (const event of generation.events) events.push(event);
  return events;
}

function textOf(events: GenerationEvent[]): string {
  return events.map((event) => (event.type === 'text' ? event.text : '')).join('');
}

describe('resilience against a faulty upstream', () => {
  let upstream: TinyUpstream;
  let primary: FaultProxy;
  let secondary: FaultProxy;
  let breakers: CircuitBreakers;
  let transitions: CircuitTransition[];
  let failed: FailedAttempt[];
  let sleeps: number[];
  /** Added to the breakers' clock: jumping it passes a cool-down without waiting it out. */
  let breakerSkew = 0;
  const passCoolDown = () => void (breakerSkew += 10_000);

  /** Records the waits asked for and keeps them short; times are real. */
  const recordingClock: ResilienceClock = {
    now: () => Date.now(),
    sleep: (ms, signal) => {
      sleeps.push(ms);
      return systemResilienceClock.sleep(Math.min(ms, 20), signal);
    },
  };

  const targets = (): { a: Target; b: Target } => ({
    a: { upstream: 'primary', url: primary.url },
    b: { upstream: 'secondary', url: secondary.url },
  });

  function policy(overrides: Partial<ResiliencePolicy> = {}): ResiliencePolicy {
    return {
      breakers,
      // Generous: only the targets a test slows down get short timeouts, so a busy machine cannot flake.
      timeouts: { firstByteMs: 3_000, idleMs: 3_000 },
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 50 },
      clock: recordingClock,
      random: seededRandom(1),
      onAttemptFailed: (report) => failed.push(report),
      ...overrides,
    };
  }

  function run(chain: RouteChain<Target>, options: { stream?: boolean; policy?: ResiliencePolicy; signal?: AbortSignal } = {}) {
    return generateWithFallback(chain, (target, context) => tinyAttempt(target.url, options.stream ?? true)(context), options.policy ?? policy(), options.signal);
  }

  before(async () => {
    upstream = await startTinyUpstream();
  });
  beforeEach(async () => {
    await Promise.all([primary?.close(), secondary?.close()]);
    primary = await startFaultProxy(upstream.url);
    secondary = await startFaultProxy(upstream.url);
    transitions = [];
    failed = [];
    sleeps = [];
    breakerSkew = 0;
    breakers = new CircuitBreakers({ failureThreshold: 3, coolDownMs: 10_000, now: () => Date.now() + breakerSkew, onTransition: (change) => transitions.push(change) });
  });
  after(async () => {
    await Promise.all([primary?.close(), secondary?.close(), upstream.close()]);
  });

  test('a 500 is retried on the same target until it succeeds', bounded, async () => {
    primary.enqueue(faults.status(500), faults.status(500));
    const { a, b } = targets();
    const generation = await run([a, b]);
    assert.equal(generation.target, a);
    assert.deepEqual(await collect(generation), upstreamEvents);
    assert.equal(primary.requests, 3);
    assert.equal(secondary.requests, 0);
    assert.deepEqual(failed.map((report) => report.failure.status), [500, 500]);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[0]! <= 5 && sleeps[1]! <= 10, 'full jitter stays under the doubling ceiling');
  });

  test('a 429 waits what retry-after-ms asks before retrying', bounded, async () => {
    primary.enqueue(faults.rateLimited({ ms: 120 }));
    const startedAt = Date.now();
    const realWaits = policy({ clock: systemResilienceClock, retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 1_000 } });
    const generation = await run([targets().a], { policy: realWaits });
    assert.ok(Date.now() - startedAt >= 115, 'waited at least the Retry-After');
    assert.equal(textOf(await collect(generation)), 'Hello world');
    assert.equal(primary.requests, 2);
  });

  test('Retry-After in seconds is honoured up to the policy cap', bounded, async () => {
    primary.enqueue(faults.rateLimited({ seconds: 30 }), faults.rateLimited({ seconds: '0.03' }));
    const generation = await run([targets().a]);
    await collect(generation);
    assert.deepEqual(sleeps, [50, 30], '30 s capped at maxDelayMs 50 ms, then 0.03 s as asked');
  });

  test('a 429 on every attempt ends as upstream_rate_limited with Retry-After', bounded, async () => {
    primary.plan(() => faults.rateLimited({ seconds: 2 }));
    await assert.rejects(run([targets().a]), (error: unknown) => {
      assert.ok(isApiError(error));
      assert.equal(error.code, 'LLMSVC_ERR_UPSTREAM_RATE_LIMITED');
      assert.equal(error.status, 429);
      assert.equal(error.headers['retry-after'], '2');
      return true;
    });
    assert.equal(primary.requests, 3);
    assert.equal(breakers.get('primary').state, 'closed', 'a rate limit is not a fault of the upstream');
  });

  test('a 4xx other than 408/409/429 is not retried', bounded, async () => {
    primary.plan(() => faults.status(400));
    await assert.rejects(run([targets().a]), (error: unknown) => isApiError(error) && error.status === 502 && /HTTP 400/.test(error.message));
    assert.equal(primary.requests, 1);
  });

  test('a connection reset before the response is retried', bounded, async () => {
    primary.enqueue(faults.resetBefore());
    const generation = await run([targets().a]);
    assert.equal(textOf(await collect(generation)), 'Hello world');
    assert.equal(primary.requests, 2);
    assert.equal(failed[0]?.failure.kind, 'connection');
  });

  test('a target that keeps resetting falls back to the next one', bounded, async () => {
    primary.plan(() => faults.resetBefore());
    const { a, b } = targets();
    const generation = await run([a, b]);
    assert.equal(generation.target, b);
    assert.equal(textOf(await collect(generation)), 'Hello world');
    assert.equal(primary.requests, 3);
    assert.equal(secondary.requests, 1);
  });

  test('a reset after the first event ends the stream with a clean error, no fallback', bounded, async () => {
    primary.enqueue(faults.resetMid({ sseEvents: 1 }));
    const { a, b } = targets();
    const generation = await run([a, b]);
    const seen: GenerationEvent[] = [];
    await assert.rejects(
      (async () => {
        for await (const event of generation.events) seen.push(event);
      })(),
      (error: unknown) => isApiError(error) && error.code === 'LLMSVC_ERR_UPSTREAM_UNAVAILABLE',
    );
    assert.deepEqual(seen, [upstreamEvents[0]]);
    assert.equal(primary.requests, 1);
    assert.equal(secondary.requests, 0);
  });

  test('a stream that goes silent after its first event fails on the idle timeout, no fallback', bounded, async () => {
    primary.enqueue(faults.silentMid({ sseEvents: 1 }));
    const { a, b } = targets();
    const generation = await run([{ ...a, timeouts: { idleMs: 100 } }, b]);
    const seen: GenerationEvent[] = [];
    const startedAt = Date.now();
    await assert.rejects(
      (async () => {
        for await (const event of generation.events) seen.push(event);
      })(),
      (error: unknown) => {
        assert.ok(error instanceof UpstreamTimeoutError);
        assert.equal(error.phase, 'idle');
        assert.equal(error.status, 504);
        return true;
      },
    );
    assert.ok(Date.now() - startedAt >= 95);
    assert.deepEqual(seen, [upstreamEvents[0]]);
    assert.equal(primary.requests, 1, 'not retried');
    assert.equal(secondary.requests, 0, 'no fallback once the client has seen output');
  });

  test('a slow first byte times out and falls back to the second target', bounded, async () => {
    primary.plan(() => faults.delayFirstByte(1_000));
    const { a, b } = targets();
    const generation = await run([{ ...a, timeouts: { firstByteMs: 100 }, retry: { maxAttempts: 2 } }, b]);
    assert.equal(generation.target, b);
    assert.equal(textOf(await collect(generation)), 'Hello world');
    assert.equal(primary.requests, 2, 'a first-byte timeout is retried on its target first');
    assert.deepEqual(
      failed.map((report) => (report.failure.error as UpstreamTimeoutError).phase),
      ['first_byte', 'first_byte'],
    );
  });

  test('the first-byte timeout bounds a non-streamed call too', bounded, async () => {
    primary.plan(() => faults.delayFirstByte(1_000));
    const { a, b } = targets();
    const generation = await run([{ ...a, timeouts: { firstByteMs: 100 }, retry: { maxAttempts: 1 } }, b], { stream: false });
    assert.equal(generation.target, b);
    assert.equal(generation.promptTokens, 4);
    assert.deepEqual(await collect(generation), upstreamEvents);
  });

  test('when every target times out the client gets upstream_timeout (504)', bounded, async () => {
    primary.plan(() => faults.delayFirstByte(1_000));
    secondary.plan(() => faults.delayFirstByte(1_000));
    const { a, b } = targets();
    await assert.rejects(
      run([a, b], { policy: policy({ timeouts: { firstByteMs: 50 }, retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 50 } }) }),
      (error: unknown) => isApiError(error) && error.code === 'LLMSVC_ERR_UPSTREAM_TIMEOUT' && error.status === 504,
    );
  });

  test('the circuit opens after 3 faults, rejects at once, and a half-open probe closes it', bounded, async () => {
    primary.plan(() => faults.status(500));
    const single = policy({ retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 50 } });
    const { a } = targets();
    for (let i = 0; i < 3; i++) await assert.rejects(run([a], { policy: single }));
    assert.equal(breakers.get('primary').state, 'open');

    await assert.rejects(run([a], { policy: single }), (error: unknown) => {
      assert.ok(error instanceof CircuitOpenError);
      assert.equal(error.status, 503);
      assert.ok(Number(error.headers['retry-after']) >= 1);
      return true;
    });
    assert.equal(primary.requests, 3, 'an open circuit does not call the upstream');

    passCoolDown();
    assert.equal(breakers.get('primary').state, 'half_open');
    primary.plan(() => faults.delayFirstByte(50));
    const probe = run([a], { policy: single });
    // While the probe is out, everyone else is still turned away.
    await assert.rejects(run([a], { policy: single }), CircuitOpenError);
    assert.equal(textOf(await collect(await probe)), 'Hello world');
    assert.equal(breakers.get('primary').state, 'closed');
    assert.equal(primary.requests, 4, 'exactly one probe');
    assert.deepEqual(
      transitions.map(({ from, to }) => `${from}>${to}`),
      ['closed>open', 'open>half_open', 'half_open>closed'],
    );
  });

  test('a failed half-open probe opens the circuit again', bounded, async () => {
    primary.plan(() => faults.resetBefore());
    const single = policy({ retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 50 } });
    const { a } = targets();
    for (let i = 0; i < 3; i++) await assert.rejects(run([a], { policy: single }));
    passCoolDown();
    await assert.rejects(run([a], { policy: single }), (error: unknown) => isApiError(error) && error.code === 'LLMSVC_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal(breakers.get('primary').state, 'open');
    assert.deepEqual(breakers.states(), [{ upstream: 'primary', state: 'open' }]);
  });

  test('an open circuit skips straight to the next target', bounded, async () => {
    primary.plan(() => faults.status(503));
    const single = policy({ retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 50 } });
    const { a, b } = targets();
    for (let i = 0; i < 3; i++) await run([a, b], { policy: single }).then(collect);
    assert.equal(breakers.get('primary').state, 'open');
    const generation = await run([a, b], { policy: single });
    assert.equal(generation.target, b);
    await collect(generation);
    assert.equal(primary.requests, 3);
    assert.equal(secondary.requests, 4);
  });

  test('weighted replicas share the traffic roughly by weight', bounded, async () => {
    const { a, b } = targets();
    const chain: RouteChain<Target> = [[{ ...a, weight: 3 }, { ...b, weight: 1 }]];
    const shared = policy({ random: seededRandom(7) });
    for (let i = 0; i < 40; i++) await collect(await run(chain, { policy: shared, stream: false }));
    assert.equal(primary.requests + secondary.requests, 40);
    assert.ok(primary.requests >= 22 && primary.requests <= 38, `3:1 split, got ${primary.requests}:${secondary.requests}`);
  });

  test('the client leaving stops the retries at once', bounded, async () => {
    primary.plan(() => faults.status(500));
    const controller = new AbortController();
    const slowRetries = policy({
      clock: systemResilienceClock,
      retry: { maxAttempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 },
      random: () => 1,
      // The client leaves while the policy waits out its 10 s backoff.
      onAttemptFailed: () => setTimeout(() => controller.abort(new Error('client left')), 10),
    });
    const pending = run([targets().a], { policy: slowRetries, signal: controller.signal });
    await assert.rejects(pending, /client left/);
    assert.equal(primary.requests, 1);
  });

  test('a consumer that stops reading closes the upstream stream', bounded, async () => {
    const abandonedBefore = upstream.abandoned;
    const generation = await run([targets().a]);
    for await (const event of generation.events) {
      assert.equal(event.type, 'text');
      break;
    }
    assert.ok(await waitFor(() => upstream.abandoned === abandonedBefore + 1, 2_000), 'the upstream saw the stream closed');
  });

  test('closing a stream nobody read still closes the upstream', bounded, async () => {
    const abandonedBefore = upstream.abandoned;
    const generation = await run([targets().a]);
    await generation.events[Symbol.asyncIterator]().return?.();
    assert.ok(await waitFor(() => upstream.abandoned === abandonedBefore + 1, 2_000), 'the upstream saw the stream closed');
  });
});

describe('resilience policies in isolation', () => {
  test('a provider that ignores its signal still cannot outlast the connect timeout', bounded, async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 5, coolDownMs: 1_000 });
    let aborted = false;
    const stuck = (_target: UpstreamTarget, context: { signal: AbortSignal; connecting(): void }) => {
      context.signal.addEventListener('abort', () => (aborted = true));
      context.connecting();
      return new Promise<Generation>(() => {});
    };
    const startedAt = Date.now();
    await assert.rejects(
      generateWithFallback([{ upstream: 'blackhole' }], stuck, { breakers, timeouts: { connectMs: 60, firstByteMs: 5_000 }, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 } }),
      (error: unknown) => error instanceof UpstreamTimeoutError && error.phase === 'connect',
    );
    assert.ok(Date.now() - startedAt >= 110, 'both attempts waited their connect timeout');
    assert.ok(aborted, 'the attempt was told to stop');
  });

  test('an upstream that ends without a single event counts as a failure and falls back', bounded, async () => {
    const breakers = new CircuitBreakers({ failureThreshold: 5, coolDownMs: 1_000 });
    const empty = async function* (): AsyncGenerator<GenerationEvent> {};
    const generation = await generateWithFallback(
      [{ upstream: 'empty' }, { upstream: 'good' }],
      async (target) => ({ promptTokens: 1, maxTokens: 1, events: target.upstream === 'empty' ? empty() : (async function* () { yield* upstreamEvents; })() }),
      { breakers, timeouts: {}, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } },
    );
    assert.equal(generation.target.upstream, 'good');
  });

  test('Retry-After parses seconds, HTTP dates and retry-after-ms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter({ 'retry-after': '3' }, now), 3_000);
    assert.equal(parseRetryAfter(new Headers({ 'Retry-After': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now), 5_000);
    assert.equal(parseRetryAfter({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }, now), 0, 'a past date means now');
    assert.equal(parseRetryAfter({ 'retry-after-ms': '250', 'retry-after': '9' }, now), 250, 'the finer header wins');
    assert.equal(parseRetryAfter({ 'retry-after': 'soon' }, now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('failures are classified like the SDKs and sockets report them', () => {
    const now = Date.now();
    const sdkError = (status: number | undefined, name = 'APIError') => Object.assign(new Error('x'), { name, status, headers: new Headers() });
    assert.deepEqual(
      [429, 408, 409, 500, 503, 400, 401, 404, 422].map((status) => classifyFailure(sdkError(status), now).retryable),
      [true, true, true, true, true, false, false, false, false],
    );
    assert.equal(classifyFailure(sdkError(undefined, 'APIConnectionError'), now).kind, 'connection');
    assert.equal(classifyFailure(sdkError(undefined, 'APIConnectionTimeoutError'), now).kind, 'timeout');
    assert.equal(classifyFailure(new TypeError('fetch failed', { cause: Object.assign(new Error('read'), { code: 'ECONNRESET' }) }), now).kind, 'connection');
    assert.equal(classifyFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), now).retryable, true);
    assert.equal(classifyFailure(new UpstreamTimeoutError('first_byte', 1, 'x'), now).retryable, true);
    assert.equal(classifyFailure(new UpstreamTimeoutError('idle', 1, 'x'), now).retryable, false);
    assert.equal(classifyFailure(new DOMException('aborted', 'AbortError'), now).kind, 'aborted');
    assert.equal(classifyFailure(sdkError(429), now).upstreamFault, false);
    assert.equal(classifyFailure(sdkError(502), now).upstreamFault, true);
  });

  test('an error that classifies itself (the providers\' UpstreamError) is taken at its word', () => {
    const now = Date.now();
    const selfClassified = (fields: object) => Object.assign(new Error('x'), fields);
    const refusedCredentials = classifyFailure(selfClassified({ kind: 'http', retryable: false, upstreamStatus: 401 }), now);
    assert.equal(refusedCredentials.retryable, false);
    assert.equal(refusedCredentials.upstreamFault, false);
    const rateLimited = classifyFailure(selfClassified({ kind: 'http', retryable: true, upstreamStatus: 429, retryAfterMs: 1_234 }), now);
    assert.equal(rateLimited.retryAfterMs, 1_234);
    assert.equal(classifyFailure(selfClassified({ kind: 'connection', retryable: true }), now).upstreamFault, true);
    assert.equal(classifyFailure(selfClassified({ kind: 'timeout', retryable: true }), now).kind, 'timeout');
  });

  test('full-jitter backoff stays between 0 and the doubling ceiling', () => {
    const policy = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
    assert.equal(backoffDelay(0, policy, () => 0), 0);
    assert.equal(backoffDelay(0, policy, () => 0.999), 99);
    assert.equal(backoffDelay(2, policy, () => 0.999), 399);
    assert.equal(backoffDelay(8, policy, () => 0.999), 999, 'capped at maxDelayMs');
  });

  test('weighted order: first choice in proportion to weight, tiers in order, weight 0 last', () => {
    const random = seededRandom(42);
    const heavy = { name: 'heavy', weight: 3 };
    const light = { name: 'light', weight: 1 };
    const standby = { name: 'standby', weight: 0 };
    const tail: { name: string; weight?: number } = { name: 'tail' };
    let heavyFirst = 0;
    for (let i = 0; i < 4_000; i++) {
      const order = planAttemptOrder([[heavy, light, standby], tail], random);
      assert.equal(order.length, 4);
      assert.equal(order[2], standby);
      assert.equal(order[3], tail);
      if (order[0] === heavy) heavyFirst += 1;
    }
    assert.ok(Math.abs(heavyFirst / 4_000 - 0.75) < 0.04, `heavy first ${heavyFirst / 4_000}`);
  });

  test('breakers can take each upstream its own options', () => {
    const breakers = new CircuitBreakers((upstream) => ({ failureThreshold: upstream === 'fragile' ? 1 : 3, coolDownMs: 1_000 }));
    breakers.get('fragile').acquire().failure();
    breakers.get('sturdy').acquire().failure();
    assert.deepEqual(breakers.states(), [
      { upstream: 'fragile', state: 'open' },
      { upstream: 'sturdy', state: 'closed' },
    ]);
  });

  test('breaker: successes reset the count; only consecutive faults open it', () => {
    let now = 0;
    const breakers = new CircuitBreakers({ failureThreshold: 2, coolDownMs: 100, now: () => now });
    const breaker = breakers.get('x');
    breaker.acquire().failure();
    breaker.acquire().success();
    breaker.acquire().failure();
    assert.equal(breaker.state, 'closed');
    breaker.acquire().failure();
    assert.equal(breaker.state, 'open');
    assert.equal(breaker.retryAfterMs, 100);
    now = 100;
    const probe = breaker.acquire();
    assert.throws(() => breaker.acquire(), CircuitOpenError);
    probe.release();
    assert.equal(breaker.state, 'half_open', 'a neutral probe leaves it half-open for the next one');
    breaker.acquire().success();
    assert.equal(breaker.state, 'closed');
  });
});
