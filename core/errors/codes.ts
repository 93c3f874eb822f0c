/** Every error a client can get from llmsvc: HTTP status, the OpenAI error `type` and `code`,
 *  and the Anthropic error type. Messages are written where the error is raised, and each says
 *  what to do about it. */
export const errorCodes = {
  LLMSVC_ERR_INVALID_JSON: { status: 400, type: 'invalid_request_error', code: 'invalid_json', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_INVALID_PARAM: { status: 400, type: 'invalid_request_error', code: 'invalid_value', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_MISSING_PARAM: { status: 400, type: 'invalid_request_error', code: 'missing_required_parameter', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_UNSUPPORTED_PARAM: { status: 400, type: 'invalid_request_error', code: 'unsupported_parameter', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_CONTEXT_LENGTH_EXCEEDED: { status: 400, type: 'invalid_request_error', code: 'context_length_exceeded', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, type: 'invalid_request_error', code: 'unsupported_media_type', anthropicType: 'invalid_request_error' },
  LLMSVC_ERR_BODY_TOO_LARGE: { status: 413, type: 'invalid_request_error', code: 'request_too_large', anthropicType: 'request_too_large' },
  LLMSVC_ERR_MODEL_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'model_not_found', anthropicType: 'not_found_error' },
  LLMSVC_ERR_ROUTE_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'unknown_url', anthropicType: 'not_found_error' },
  LLMSVC_ERR_MODEL_LOAD_FAILED: { status: 500, type: 'server_error', code: 'model_load_failed', anthropicType: 'api_error' },
  LLMSVC_ERR_INSUFFICIENT_MEMORY: { status: 507, type: 'server_error', code: 'insufficient_memory', anthropicType: 'overloaded_error' },
  LLMSVC_ERR_SHUTTING_DOWN: { status: 503, type: 'server_error', code: 'shutting_down', anthropicType: 'overloaded_error' },
  LLMSVC_ERR_NOT_READY: { status: 503, type: 'server_error', code: 'not_ready', anthropicType: 'overloaded_error' },
  LLMSVC_ERR_INTERNAL: { status: 500, type: 'server_error', code: 'internal_error', anthropicType: 'api_error' },
} as const satisfies Record<string, { status: number; type: string; code: string; anthropicType: string }>;

export type ErrorCode = keyof typeof errorCodes;
