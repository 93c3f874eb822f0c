import { errorCodes, type ErrorCode } from './codes.js';

/** An error meant for the client. Raised anywhere in core; turned into a response body in one
 *  place, the server's error handler. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  readonly type: string;
  readonly openaiCode: string;
  readonly anthropicType: string;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    const entry = errorCodes[code];
    this.status = entry.status;
    this.type = entry.type;
    this.openaiCode = entry.code;
    this.anthropicType = entry.anthropicType;
  }
}

export function isApiError(error: unknown): error is ApiError {
  return error instanceof ApiError;
}

/** OpenAI's error body: `{error: {message, type, param, code}}`. */
export function openaiErrorBody(error: ApiError) {
  return { error: { message: error.message, type: error.type, param: error.param, code: error.openaiCode } };
}

/** Anthropic's error body: `{type: 'error', error: {type, message}}`. */
export function anthropicErrorBody(error: ApiError) {
  return { type: 'error', error: { type: error.anthropicType, message: error.message } };
}
