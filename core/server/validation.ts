import { z } from 'zod';
import { ApiError } from '../errors/index.js';

/** OpenAI names a parameter like `messages[0].content`. */
function paramName(path: readonly PropertyKey[]): string {
  return path.reduce<string>((name, key) => (typeof key === 'number' ? `${name}[${key}]` : name ? `${name}.${String(key)}` : String(key)), '');
}

function toApiError(issue: z.core.$ZodIssue): ApiError {
  if (issue.code === 'unrecognized_keys') {
    const where = paramName(issue.path);
    return new ApiError(
      'LLMSVC_ERR_UNSUPPORTED_PARAM',
      `Unrecognized request argument supplied: ${issue.keys.join(', ')}${where ? ` (in ${where})` : ''}. Remove it; see the API reference for the accepted parameters.`,
      issue.keys.length === 1 ? (where ? `${where}.${issue.keys[0]}` : issue.keys[0]!) : where || null,
    );
  }
  const param = paramName(issue.path);
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return new ApiError('LLMSVC_ERR_MISSING_PARAM', `Missing required parameter: '${param}'. Add it to the request body.`, param);
  }
  return new ApiError('LLMSVC_ERR_INVALID_PARAM', `Invalid value for '${param || 'body'}': ${issue.message}.`, param || null);
}

/** Parses a request body, or throws a 400 that names the first bad parameter. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError('LLMSVC_ERR_INVALID_JSON', 'The request body must be a JSON object with the request parameters.');
  }
  // reportInput: without it zod leaves `input` off every issue, and a value of the wrong type
  // would read as a missing one.
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data;
  throw toApiError(result.error.issues[0]!);
}
