import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics/index.js';
import type { RuntimePhase } from '../../providers/llama/worker/protocol.js';

export interface Readiness {
  /** `ready` once the server can serve generations (the llama.cpp binding is loaded); otherwise
   *  why not yet (`starting`, `warming`) or not at all (`failed`), with a reason. */
  phase(): RuntimePhase;
  details(): Promise<Record<string, unknown>>;
}

/** GET /healthz (the process is alive: it answers as soon as the server listens, while the
 *  runtime thread still loads), GET /readyz (it can serve), GET /metrics (Prometheus). */
export function registerHealthRoutes(
  app: FastifyInstance,
  deps: { readiness: Readiness; metrics: Metrics; runtimeMetrics: () => Promise<string>; boxMetrics?: () => Promise<string> },
): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const phase = deps.readiness.phase();
    return reply.status(phase.status === 'ready' ? 200 : 503).send({ ...phase, ...(await deps.readiness.details()) });
  });
  app.get('/metrics', async (_request, reply) => {
    // The HTTP side's registry and the runtime thread's have disjoint metric names: one exposition.
    // With several HTTP workers (`serve --workers N`), the HTTP side's figures are the whole box's.
    const [own, runtime] = await Promise.all([deps.boxMetrics?.() ?? deps.metrics.registry.metrics(), deps.runtimeMetrics().catch(() => '')]);
    return reply.type(deps.metrics.registry.contentType).send(`${own}\n${runtime}`);
  });
}
