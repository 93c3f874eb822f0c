import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listBatchJobs } from '../../../batches/index.js';
import { ApiError } from '../../../errors/index.js';
import { ingestionJobKind } from '../../../rag/index.js';
import type { Store } from '../../../store/index.js';
import { routeDocs } from '../../openapi.js';
import { parseBody } from '../../validation.js';
import type { JobCanceller } from './sources.js';
import { jobView } from './stats.js';

export const jobsQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100).describe('Jobs to list, 1 to 500') }).strict();

/** GET /admin/v1/jobs (newest first, every kind) and POST /admin/v1/jobs/{id}/cancel. */
export function registerJobRoutes(app: FastifyInstance, deps: { store: Store; cancellers: ReadonlyMap<string, JobCanceller> }): void {
  const { store, cancellers } = deps;

  app.get('/admin/v1/jobs', { config: routeDocs({ tags: ['admin'], summary: 'Durable jobs (ingestions, batches), newest first', query: jobsQuerySchema }) }, async (request) => {
    const query = parseBody(jobsQuerySchema, request.query ?? {});
    // Both lists are newest first and at most `limit` long: merge them and keep the newest.
    const jobs = [...(await store.jobs.list(query.limit)).map(jobView), ...(await listBatchJobs(store, { limit: query.limit }))];
    jobs.sort((a, b) => b.created_at - a.created_at);
    return { object: 'list', data: jobs.slice(0, query.limit) };
  });

  app.post<{ Params: { id: string } }>(
    '/admin/v1/jobs/:id/cancel',
    { config: routeDocs({ tags: ['admin'], summary: 'Cancel a job (kinds that can be cancelled)', params: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }) },
    async (request) => {
      const batch = await store.batches.find(request.params.id);
      if (batch) return cancelBatch(batch.id);
      const job = await store.jobs.find(request.params.id);
      if (!job) throw new ApiError('LLMSVC_ERR_NOT_FOUND', `No job with id '${request.params.id}'. GET /admin/v1/jobs lists the jobs.`, 'id');
      const cancel = cancellers.get(job.kind);
      if (!cancel) {
        throw new ApiError(
          'LLMSVC_ERR_JOB_NOT_CANCELLABLE',
          `Jobs of kind '${job.kind}' cannot be cancelled: they finish or fail on their own.${job.kind === ingestionJobKind ? ' To stop indexing a file, remove it from its vector store (DELETE /v1/vector_stores/{id}/files/{file_id}).' : ''}`,
          'id',
        );
      }
      if (job.state === 'done' || job.state === 'failed') return jobView(job);
      await cancel(job.id);
      return jobView((await store.jobs.find(job.id)) ?? job);
    },
  );

  /** Batches live in their own table; they are cancelled through the BatchService (the canceller
   *  registered for the 'batch' kind), as POST /v1/batches/{id}/cancel does. */
  async function cancelBatch(id: string) {
    const view = async () => (await listBatchJobs(store)).find((job) => job.id === id)!;
    const cancel = cancellers.get(batchJobKind);
    if (!cancel) throw new ApiError('LLMSVC_ERR_JOB_NOT_CANCELLABLE', `Batch ${id} cannot be cancelled from the admin API on this server; use POST /v1/batches/{id}/cancel.`, 'id');
    const before = await view();
    if (!batchEnded.has(before.state)) await cancel(id);
    return view();
  }
}

export const batchJobKind = 'batch';
/** A batch in one of these states has ended: cancelling it is a no-op, as for a done job. */
const batchEnded = new Set(['completed', 'failed', 'cancelled', 'expired']);
