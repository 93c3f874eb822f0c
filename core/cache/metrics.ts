import { Counter, type Registry } from 'prom-client';

export type CacheResult = 'hit' | 'miss' | 'bypass' | 'uncacheable';
const results: CacheResult[] = ['hit', 'miss', 'bypass', 'uncacheable'];

export interface CacheMetrics {
  requests: Counter<'result'>;
  errors: Counter<'operation'>;
}

/** The cache's counters on the given registry (or a registry's existing ones, so two caches on
 *  one registry do not collide). Every result starts at 0, so dashboards show a rate at once. */
export function createCacheMetrics(registry: Registry): CacheMetrics {
  const counter = <Label extends string>(name: string, help: string, label: Label) =>
    (registry.getSingleMetric(name) as Counter<Label> | undefined) ??
    new Counter({ name, help, labelNames: [label], registers: [registry] });
  const requests = counter(
    'llmsvc_cache_requests_total',
    'Response cache look-ups: hit, miss (also when the store is unreachable), bypass (asked by the client), uncacheable (not deterministic)',
    'result',
  );
  for (const result of results) requests.inc({ result }, 0);
  const errors = counter('llmsvc_cache_errors_total', 'Response cache store operations that failed or timed out, by operation', 'operation');
  return { requests, errors };
}
