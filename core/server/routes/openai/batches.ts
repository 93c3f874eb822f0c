import type { FastifyInstance } from 'fastify';
import { createOpenAiBatchSchema, type BatchService } from '../../../batches/index.js';
import { batchCaller } from '../../batchLines.js';
import { z } from 'zod';
import { parseBody } from '../../validation.js';

/** OpenAI's list query for batches: `after` and `limit` (newest first). */
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(100).default(20), after: z.string().min(1).optional() }).strict();

/** OpenAI's Batch API: POST/GET /v1/batches, GET /v1/batches/{id}, POST /v1/batches/{id}/cancel. */
export function registerOpenAiBatches(app: FastifyInstance, batches: BatchService): void {
  app.post('/v1/batches', async (request) => batches.createOpenAi(parseBody(createOpenAiBatchSchema, request.body), batchCaller(request)));
  app.get('/v1/batches', async (request) => {
    const query = parseBody(listQuery, request.query);
    // OpenAI lists batches newest first.
    return batches.listOpenAi({ ...query, order: 'desc' }, batchCaller(request));
  });
  app.get<{ Params: { id: string } }>('/v1/batches/:id', async (request) => batches.retrieveOpenAi(request.params.id, batchCaller(request)));
  app.post<{ Params: { id: string } }>('/v1/batches/:id/cancel', async (request) => batches.cancelOpenAi(request.params.id, batchCaller(request)));
}
