import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BatchCaller, LineExecutor } from '../batches/index.js';

const tokenHeader = 'x-llmsvc-internal-token';
const keyHeader = 'x-llmsvc-batch-key';

/** Lets the batch worker send a line as a request of the key that submitted the batch. The key's
 *  secret is never stored (only its hash), so the line carries the key's id and a random token
 *  made at start-up that exists only in this process's memory: injected requests never cross the
 *  network, and a client that sends these headers without the token is authenticated as usual. */
export class InternalCaller {
  private readonly token = randomBytes(32).toString('hex');

  /** The key id an injected batch line runs as, or undefined for any other request. */
  batchKeyOf(request: FastifyRequest): string | undefined {
    const keyId = request.headers[keyHeader];
    const token = request.headers[tokenHeader];
    if (typeof keyId !== 'string' || typeof token !== 'string' || token.length !== this.token.length) return undefined;
    return timingSafeEqual(Buffer.from(token), Buffer.from(this.token)) ? keyId : undefined;
  }

  /** Runs a line through the server's own route (app.inject): the same auth, model permissions,
   *  rate limits, quotas, router, cache, redaction, request log and usage as a live request of
   *  the key, at the background priority of the fair queue. Injecting rather than calling the
   *  route functions keeps one code path for both: nothing of the live request is re-implemented. */
  executor(app: FastifyInstance): LineExecutor {
    return async ({ api, keyId, endpoint, body }) => {
      const response = await app.inject({
        method: 'POST',
        url: endpoint,
        headers: {
          'content-type': 'application/json',
          'x-llmsvc-priority': 'background',
          ...(keyId === null ? {} : { [keyHeader]: keyId, [tokenHeader]: this.token }),
          ...(api === 'anthropic' ? { 'anthropic-version': '2023-06-01' } : {}),
        },
        payload: body,
      });
      let parsed: unknown;
      try {
        parsed = response.json();
      } catch {
        parsed = { error: { message: response.body, type: 'server_error', param: null, code: null } };
      }
      const retryAfter = Number(response.headers['retry-after']);
      const requestId = response.headers['x-request-id'];
      return {
        statusCode: response.statusCode,
        body: parsed,
        requestId: typeof requestId === 'string' ? requestId : null,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
      };
    };
  }
}

/** The caller a batch belongs to: a user key sees its own batches, an admin key (or no auth) all. */
export function batchCaller(request: FastifyRequest): BatchCaller {
  return { keyId: request.apiKey?.id ?? null, admin: !request.apiKey || request.apiKey.scope === 'admin' };
}
