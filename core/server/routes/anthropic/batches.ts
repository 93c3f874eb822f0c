import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { createAnthropicBatchSchema, type BatchService } from '../../../batches/index.js';
import { parseBody } from '../../validation.js';
import { batchCaller } from '../../batchLines.js';

/** Anthropic's pagination: before_id / after_id / limit, newest first. */
const listQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(20),
    after_id: z.string().min(1).optional(),
    before_id: z.string().min(1).optional(),
  })
  .strict();

function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Anthropic's Message Batches: /v1/messages/batches (create, list), /{id} (retrieve, delete),
 *  /{id}/cancel and /{id}/results (JSONL). */
export function registerAnthropicBatches(app: FastifyInstance, batches: BatchService): void {
  app.post('/v1/messages/batches', async (request) => batches.createAnthropic(parseBody(createAnthropicBatchSchema, request.body), batchCaller(request), baseUrl(request)));
  app.get('/v1/messages/batches', async (request) => {
    const query = parseBody(listQuery, request.query);
    const page = { limit: query.limit, order: 'desc' as const, ...(query.after_id ? { after: query.after_id } : {}), ...(query.before_id ? { before: query.before_id } : {}) };
    return batches.listAnthropic(page, batchCaller(request), baseUrl(request));
  });
  app.get<{ Params: { id: string } }>('/v1/messages/batches/:id', async (request) => batches.retrieveAnthropic(request.params.id, batchCaller(request), baseUrl(request)));
  app.delete<{ Params: { id: string } }>('/v1/messages/batches/:id', async (request) => batches.deleteAnthropic(request.params.id, batchCaller(request)));
  app.post<{ Params: { id: string } }>('/v1/messages/batches/:id/cancel', async (request) => batches.cancelAnthropic(request.params.id, batchCaller(request), baseUrl(request)));
  app.get<{ Params: { id: string } }>('/v1/messages/batches/:id/results', async (request, reply) => {
    const rest = Readable.from(await batches.anthropicResults(request.params.id, batchCaller(request))); // errors (not found, not ended) before the 200 is sent
    return reply.type('application/x-jsonl').send(rest);
  });
}
