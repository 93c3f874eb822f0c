import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics/index.js';

export interface Readiness {
  /** True once the server can serve generations (the llama.cpp binding is loaded). */
  ready(): boolean;
  details(): Promise<Record<string, unknown>>;
}

/** GET /healthz (the process is alive), GET /readyz (it can serve), GET /metrics (Prometheus). */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { readiness: Readiness; metrics: Metrics; runtimeMetrics: () => Promise<string> },
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.readiness.ready();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', ...(await deps.readiness.details()) });
  });
  app.get('/metrics', async (_request, reply) => {
    // The HTTP side's registry and the runtime thread's have disjoint metric names: one exposition.
    const [own, runtime] = await Promise.all([deps.metrics.registry.metrics(), deps.runtimeMetrics().catch(() => '')]);
    return reply.type(deps.metrics.registry.contentType).send(`${own}\n${runtime}`);
  });
}
