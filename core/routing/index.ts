import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Provider } from '../providers/index.js';
import { CircuitBreakers, type CircuitState } from './resilience/index.js';
import { Router, type RouterOptions } from './router.js';
import type { UpstreamEntry } from './targets.js';

export { Router } from './router.js';
export { egressRefusal } from './egress.js';

const circuitGauge: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** Completion budget reserved for upstream requests that set no max_tokens. */
const upstreamDefaultMaxTokens = 4096;

/** The router the server talks to, built from the config: the local provider, one upstream
 *  provider per config entry, the routes, the egress policy, circuit breakers with metrics and
 *  logs. Upstreams the egress policy refuses are still built (their routes may fall back to
 *  local targets) but warned about at start. The upstream providers' modules (the vendors' SDKs,
 *  undici: ~250 ms and ~30 MB of start-up, measured) load only when the config names one. */
export async function createRouter(config: Config, local: Provider, logger: Logger, metrics: Metrics, extras: Pick<RouterOptions, 'cache' | 'tracing'> = {}): Promise<Router> {
  const upstreams = new Map<string, UpstreamEntry>();
  const breakerSettings = new Map<string, { failureThreshold: number; coolDownMs: number }>();
  if (config.providers.length > 0) {
    const { baseUrlOf, createUpstreamProvider } = await import('../providers/registry.js');
    for (const settings of config.providers) {
      const baseUrl = baseUrlOf(settings);
      upstreams.set(settings.id, { provider: createUpstreamProvider(settings, upstreamDefaultMaxTokens), settings, baseUrl });
      breakerSettings.set(settings.id, { failureThreshold: settings.resilience.circuit_failures, coolDownMs: settings.resilience.circuit_cooldown_ms });
    }
  }
  const breakers = new CircuitBreakers((upstream) => ({
    ...(breakerSettings.get(upstream) ?? { failureThreshold: 5, coolDownMs: 30_000 }),
    onTransition: ({ upstream: name, from, to }) => {
      metrics.circuitState.set({ upstream: name }, circuitGauge[to]);
      logger.warn({ upstream: name, from, to }, `circuit breaker of upstream ${name}: ${from} → ${to}`);
    },
  }));
  return new Router({
    local,
    upstreams,
    routes: config.routes,
    egress: { offline: config.offline, ...(config.egress_allowlist ? { allowlist: config.egress_allowlist } : {}) },
    resilience: {
      breakers,
      onAttemptFailed: ({ upstream, retry, failure, retryInMs }) => {
        const next = retryInMs === undefined ? 'fallback' : 'retry';
        metrics.upstreamFailures.inc({ upstream, kind: failure.kind, next });
        logger.warn({ upstream, retry, kind: failure.kind, status: failure.status, retryInMs }, `upstream ${upstream} attempt failed (${failure.kind}); ${next}`);
      },
    },
    ...extras,
  });
}
