import type { FastifyRequest } from 'fastify';
import type { ApiError } from '../errors/index.js';
import { toApiError } from './errorHandler.js';
import type { SseWriter } from './sse.js';

/** Ends an open stream after a failure: `sendError` writes the front's own error event (OpenAI's
 *  `data: {"error": …}`, Anthropic's `event: error`), which the SDKs raise as an APIError —
 *  unless the client is gone (then there is no one to tell). */
export function streamFailed(request: FastifyRequest, sse: SseWriter, error: unknown, sendError: (apiError: ApiError) => void): void {
  if (request.abortSignal.aborted && sse.closed) return;
  const apiError = toApiError(error);
  request.errorCode = apiError.code;
  if (apiError.status >= 500) request.log.error({ err: error }, 'stream failed');
  sendError(apiError);
  sse.end();
}
