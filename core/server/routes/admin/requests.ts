import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RequestLedgerStore, Store } from '../../../store/index.js';
import { routeDocs } from '../../openapi.js';
import { parseBody } from '../../validation.js';

export const requestsQuerySchema = z
  .object({
    key_id: z.string().min(1).optional().describe('Only requests made with this key'),
    model: z.string().min(1).optional().describe('Only requests for this model'),
    status: z
      .string()
      .regex(/^([1-5]xx|[1-5][0-9][0-9])$/, "an HTTP status such as 429, or a class such as '4xx'")
      .optional()
      .describe("An exact status (429) or a class ('2xx', '4xx', '5xx')"),
    since: z.coerce.number().int().nonnegative().optional().describe('Unix ms: only requests at or after this time'),
    after: z.string().regex(/^[0-9]+$/, 'the last_id of the previous page').optional().describe('Cursor: the last_id of the previous page'),
    limit: z.coerce.number().int().min(1).max(200).default(50).describe('Rows per page, 1 to 200'),
  })
  .strict();

/** GET /admin/v1/requests: the request log, newest first, filtered, with cursor pagination. */
export function registerRequestRoutes(app: FastifyInstance, deps: { store: Store; ledger: RequestLedgerStore }): void {
  app.get('/admin/v1/requests', { config: routeDocs({ tags: ['admin'], summary: 'The request log, newest first', query: requestsQuerySchema }) }, async (request) => {
    const query = parseBody(requestsQuerySchema, request.query ?? {});
    await deps.ledger.flush(); // every request that has ended, not only those of past event-loop turns
    let status: number | [number, number] | undefined;
    if (query.status?.endsWith('xx')) {
      const low = Number(query.status[0]) * 100;
      status = [low, low + 99];
    } else if (query.status) {
      status = Number(query.status);
    }
    const rows = await deps.store.requestLog.query({
      keyId: query.key_id,
      model: query.model,
      status,
      since: query.since,
      after: query.after === undefined ? undefined : Number(query.after),
      limit: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    return {
      object: 'list',
      data: page.map((row) => ({
        id: row.id,
        created_at: row.createdAt,
        route: row.route,
        method: row.method,
        model: row.model,
        key_id: row.keyId,
        status: row.status,
        prompt_tokens: row.promptTokens,
        completion_tokens: row.completionTokens,
        latency_ms: Math.round(row.latencyMs * 100) / 100,
        ttft_ms: row.ttftMs === null ? null : Math.round(row.ttftMs * 100) / 100,
        stream: row.stream,
        error_code: row.errorCode,
      })),
      has_more: rows.length > query.limit,
      last_id: page.length > 0 ? String(page[page.length - 1]!.seq) : null,
    };
  });
}
