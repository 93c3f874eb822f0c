import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics/index.js';

export interface Readiness {
  /** True once the server can serve generations (the llama.cpp binding is loaded). */
  ready(): boolean;
  details(): Record<string, unknown>;
}

/** GET /healthz (the process is alive), GET /readyz (it can serve), GET /metrics (Prometheus). */
export function registerHealthRoutes(app: FastifyInstance, deps: { readiness: Readiness; metrics: Metrics }): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.readiness.ready();
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'starting', ...deps.readiness.details() });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
