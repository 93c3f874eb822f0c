import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, anthropicErrorBody, isApiError, openaiErrorBody } from '../errors/index.js';

/** Fastify's own errors (body parsing, limits) as llmsvc errors. */
function fromFastifyError(error: FastifyError): ApiError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('LLMSVC_ERR_BODY_TOO_LARGE', `The request body is larger than the server accepts (${error.message}). Send a smaller body, or raise body_limit.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('LLMSVC_ERR_UNSUPPORTED_MEDIA_TYPE', `Unsupported Content-Type: send the body as JSON with "Content-Type: application/json".`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('LLMSVC_ERR_INVALID_JSON', 'The request body is empty. Send a JSON object with the request parameters.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('LLMSVC_ERR_INVALID_JSON', `We could not parse the JSON body of your request (${error.message}). Send a valid JSON object.`);
  }
  if (error instanceof SyntaxError && error.statusCode === 400) {
    return new ApiError('LLMSVC_ERR_INVALID_JSON', `We could not parse the JSON body of your request (${error.message}). Send a valid JSON object.`);
  }
  return undefined;
}

export function toApiError(error: unknown): ApiError {
  if (isApiError(error)) return error;
  const fromFastify = fromFastifyError(error as FastifyError);
  if (fromFastify) return fromFastify;
  return new ApiError('LLMSVC_ERR_INTERNAL', 'The server had an error while processing your request. Retry it; if it keeps failing, report the request id in x-request-id.');
}

/** Anthropic's clients (they always send `anthropic-version`) and routes get Anthropic's error
 *  shape; everyone else OpenAI's. */
export function errorBodyFor(request: FastifyRequest, error: ApiError): object {
  const anthropic = request.headers['anthropic-version'] !== undefined || request.url.startsWith('/v1/messages');
  return anthropic ? anthropicErrorBody(error) : openaiErrorBody(error);
}

/** The one place where errors become responses. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply: FastifyReply) => {
    if (request.abortSignal?.aborted && reply.raw.destroyed) {
      // The client hung up: nobody to answer. 499 (as nginx logs it) keeps it apart in the request log.
      request.errorCode = 'client_closed_request';
      void reply.status(499).send();
      return;
    }
    const apiError = request.abortSignal?.aborted
      ? new ApiError('LLMSVC_ERR_SHUTTING_DOWN', 'The server is shutting down and stopped this request; retry it against the restarted server.')
      : toApiError(error);
    if (apiError.status >= 500) request.log.error({ err: error }, 'request failed');
    request.errorCode = apiError.code;
    void reply.status(apiError.status).headers(apiError.headers).send(errorBodyFor(request, apiError));
  });
  app.setNotFoundHandler((request, reply) => {
    const apiError = new ApiError(
      'LLMSVC_ERR_ROUTE_NOT_FOUND',
      `Invalid URL (${request.method} ${request.url.split('?')[0]}). See the README for the endpoints llmsvc serves.`,
    );
    request.errorCode = apiError.code;
    void reply.status(404).send(errorBodyFor(request, apiError));
  });
}
