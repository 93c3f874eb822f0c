import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createKeySchema, keyView, updateKeySchema, utcDay, type Clock, type KeyService } from '../../../auth/index.js';
import type { RequestLedgerStore, Store } from '../../../store/index.js';
import { routeDocs } from '../../openapi.js';
import { parseBody } from '../../validation.js';
import type { AdminKey } from './wire.js';

// The view core/auth builds is the key the UIs read: a compile-time check that the two agree.
keyView satisfies (...args: Parameters<typeof keyView>) => AdminKey;

const day = z.iso.date();
const usageQuerySchema = z.object({ key_id: z.string().optional(), from: day.optional(), to: day.optional() }).strict();
const idParams = { type: 'object', properties: { id: { type: 'string', description: 'The key id' } }, required: ['id'] };
const tags = ['admin'];

/** Keys (create, list, get, update, revoke, rotate) and usage. */
export function registerKeyRoutes(app: FastifyInstance, deps: { keys: KeyService; store: Store; ledger: RequestLedgerStore; clock: Clock }): void {
  const { keys, store, ledger, clock } = deps;

  app.post('/admin/v1/keys', { config: routeDocs({ tags, summary: 'Create a key (the secret is in this response only)', body: createKeySchema }) }, async (request, reply) => {
    const input = parseBody(createKeySchema, request.body);
    const { key, secret } = await keys.create(input);
    // The secret is in this response once and nowhere else: only its hash is stored.
    return reply.status(201).send({ ...keyView(key), key: secret });
  });

  app.get('/admin/v1/keys', { config: routeDocs({ tags, summary: 'List keys' }) }, async () => ({ object: 'list', data: (await keys.list()).map(keyView) }));

  app.get<{ Params: { id: string } }>('/admin/v1/keys/:id', { config: routeDocs({ tags, summary: 'One key', params: idParams }) }, async (request) =>
    keyView(await keys.get(request.params.id)),
  );

  app.patch<{ Params: { id: string } }>(
    '/admin/v1/keys/:id',
    { config: routeDocs({ tags, summary: 'Change a key’s name, limits, quotas or models', params: idParams, body: updateKeySchema }) },
    async (request) => {
      const patch = parseBody(updateKeySchema, request.body);
      return keyView(await keys.update(request.params.id, patch));
    },
  );

  app.delete<{ Params: { id: string } }>('/admin/v1/keys/:id', { config: routeDocs({ tags, summary: 'Revoke a key', params: idParams }) }, async (request) => ({
    ...keyView(await keys.revoke(request.params.id)),
    deleted: true,
  }));

  app.post<{ Params: { id: string } }>(
    '/admin/v1/keys/:id/rotate',
    { config: routeDocs({ tags, summary: 'Replace a key’s secret (the new one is in this response only)', params: idParams }) },
    async (request) => {
      const { key, secret } = await keys.rotate(request.params.id);
      return { ...keyView(key), key: secret };
    },
  );

  app.get('/admin/v1/usage', { config: routeDocs({ tags, summary: 'Usage per key, model and UTC day', query: usageQuerySchema }) }, async (request) => {
    const query = parseBody(usageQuerySchema, request.query ?? {});
    const today = utcDay(clock());
    await ledger.flush(); // every request that has ended, not only those of past event-loop turns
    const rows = await store.usage.range(query.key_id ?? null, query.from ?? '0000-01-01', query.to ?? today);
    return {
      object: 'list',
      data: rows.map((row) => ({
        key_id: row.keyId,
        model: row.model,
        day: row.day,
        requests: row.requests,
        prompt_tokens: row.promptTokens,
        completion_tokens: row.completionTokens,
        total_tokens: row.promptTokens + row.completionTokens,
        errors: row.errors,
      })),
    };
  });
}
