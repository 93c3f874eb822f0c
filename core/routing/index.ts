import type { Logger } from 'pino';
import type { Config, ResolvedPool, ResolvedProvider } from '../config/index.js';
import type { Metrics } from '../metrics/index.js';
import type { Provider } from '../providers/index.js';
import { EnginePool } from './pool/index.js';
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
  // Made before the providers (its options are read on each breaker's first use): pools consult it.
  const breakers = new CircuitBreakers((upstream) => ({
    ...(breakerSettings.get(upstream) ?? { failureThreshold: 5, coolDownMs: 30_000 }),
    onTransition: ({ upstream: name, from, to }) => {
      metrics.circuitState.set({ upstream: name }, circuitGauge[to]);
      logger.warn({ upstream: name, from, to }, `circuit breaker of upstream ${name}: ${from} → ${to}`);
    },
  }));
  if (config.providers.length > 0) {
    const { baseUrlOf, createUpstreamProvider } = await import('../providers/registry.js');
    for (const settings of config.providers) {
      const breaker = { failureThreshold: settings.resilience.circuit_failures, coolDownMs: settings.resilience.circuit_cooldown_ms };
      if (settings.pool) {
        const pool = createPool({ ...settings, pool: settings.pool }, breakers, logger, metrics, (member) => createUpstreamProvider(member, upstreamDefaultMaxTokens));
        upstreams.set(settings.id, { provider: pool, settings, baseUrl: pool.members[0]!.baseUrl, pool });
        for (const member of pool.members) breakerSettings.set(member.upstream, breaker);
        continue;
      }
      upstreams.set(settings.id, { provider: createUpstreamProvider(settings, upstreamDefaultMaxTokens), settings, baseUrl: baseUrlOf(settings) });
      breakerSettings.set(settings.id, breaker);
    }
  }
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

/** A pool provider's engines: one openai-compatible provider per member (the pool's settings with
 *  the member's base URL and key), health and load reported as metrics, health changes logged. */
function createPool(
  settings: ResolvedProvider & { pool: ResolvedPool },
  breakers: CircuitBreakers,
  logger: Logger,
  metrics: Metrics,
  createProvider: (settings: ResolvedProvider) => Provider,
): EnginePool {
  const { pool, api_key: _poolKey, ...shared } = settings;
  return new EnginePool({
    id: settings.id,
    members: pool.members.map((member) => ({
      baseUrl: member.base_url,
      ...(member.api_key ? { apiKey: member.api_key } : {}),
      provider: createProvider({ ...shared, base_url: member.base_url, ...(member.api_key ? { api_key: member.api_key } : {}) }),
    })),
    stickyPrefixChars: pool.sticky_prefix_chars,
    stickyMaxExtraOutstanding: pool.sticky_max_extra_outstanding,
    healthCheck: pool.health_check,
    circuitOpen: (upstream) => breakers.peek(upstream)?.state === 'open',
    observer: {
      health: (member, healthy, changed) => {
        metrics.poolHealthy.set({ pool: settings.id, member: member.label }, healthy ? 1 : 0);
        if (changed) logger.warn({ pool: settings.id, member: member.label, healthy }, `pool ${settings.id}: member ${member.label} is ${healthy ? 'healthy again' : 'failing its health check; skipped until it passes'}`);
      },
      outstanding: (member) => metrics.poolOutstanding.set({ pool: settings.id, member: member.label }, member.outstanding),
      sent: (member) => metrics.poolRequests.inc({ pool: settings.id, member: member.label }),
    },
  });
}
