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
  LLMSVC_ERR_MISSING_API_KEY: { status: 401, type: 'invalid_request_error', code: 'missing_api_key', anthropicType: 'authentication_error' },
  LLMSVC_ERR_INVALID_API_KEY: { status: 401, type: 'invalid_request_error', code: 'invalid_api_key', anthropicType: 'authentication_error' },
  LLMSVC_ERR_API_KEY_EXPIRED: { status: 401, type: 'invalid_request_error', code: 'api_key_expired', anthropicType: 'authentication_error' },
  LLMSVC_ERR_MODEL_NOT_ALLOWED: { status: 403, type: 'permission_error', code: 'model_not_allowed', anthropicType: 'permission_error' },
  LLMSVC_ERR_SCOPE_NOT_ALLOWED: { status: 403, type: 'permission_error', code: 'insufficient_scope', anthropicType: 'permission_error' },
  LLMSVC_ERR_RATE_LIMIT_REQUESTS: { status: 429, type: 'requests', code: 'rate_limit_exceeded', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_RATE_LIMIT_TOKENS: { status: 429, type: 'tokens', code: 'rate_limit_exceeded', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_CONCURRENCY_LIMIT: { status: 429, type: 'requests', code: 'concurrency_limit_exceeded', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_QUOTA_EXCEEDED: { status: 429, type: 'insufficient_quota', code: 'insufficient_quota', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_QUEUE_FULL: { status: 429, type: 'requests', code: 'queue_full', anthropicType: 'overloaded_error' },
  LLMSVC_ERR_AUTH_THROTTLED: { status: 429, type: 'requests', code: 'too_many_failed_auth_attempts', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'not_found', anthropicType: 'not_found_error' },
  LLMSVC_ERR_INTERNAL: { status: 500, type: 'server_error', code: 'internal_error', anthropicType: 'api_error' },
  // Upstream providers (cloud or another OpenAI-compatible server) behind a route; raised by core/routing/resilience.
  LLMSVC_ERR_UPSTREAM_TIMEOUT: { status: 504, type: 'server_error', code: 'upstream_timeout', anthropicType: 'timeout_error' },
  LLMSVC_ERR_UPSTREAM_UNAVAILABLE: { status: 502, type: 'server_error', code: 'upstream_unavailable', anthropicType: 'api_error' },
  LLMSVC_ERR_UPSTREAM_RATE_LIMITED: { status: 429, type: 'requests', code: 'upstream_rate_limited', anthropicType: 'rate_limit_error' },
  LLMSVC_ERR_UPSTREAM_CIRCUIT_OPEN: { status: 503, type: 'server_error', code: 'upstream_circuit_open', anthropicType: 'overloaded_error' },
  // The upstream refused the request itself (a 4xx other than auth and rate limits): fix the request.
  LLMSVC_ERR_UPSTREAM_REJECTED: { status: 400, type: 'invalid_request_error', code: 'upstream_rejected', anthropicType: 'invalid_request_error' },
  // --offline or the egress allowlist keeps this request on the machine.
  LLMSVC_ERR_EGRESS_BLOCKED: { status: 403, type: 'permission_error', code: 'egress_blocked', anthropicType: 'permission_error' },
  // The model exists but cannot do this (chat on an embedding model, embeddings on a Claude model).
  LLMSVC_ERR_UNSUPPORTED_BY_MODEL: { status: 400, type: 'invalid_request_error', code: 'model_not_supported', anthropicType: 'invalid_request_error' },
  // Responses API: previous_response_id names no stored response this key may read (OpenAI's code).
  LLMSVC_ERR_PREVIOUS_RESPONSE_NOT_FOUND: { status: 404, type: 'invalid_request_error', code: 'previous_response_not_found', anthropicType: 'not_found_error' },
  // Responses API: a hosted tool OpenAI runs on its side (web_search, code_interpreter, …); llmsvc serves function tools only.
  LLMSVC_ERR_BUILTIN_TOOL_UNSUPPORTED: { status: 400, type: 'invalid_request_error', code: 'unsupported_tool', anthropicType: 'invalid_request_error' },
  // The admin console's session cookie came without its CSRF token on a change (POST, PATCH, DELETE).
  LLMSVC_ERR_CSRF_TOKEN_INVALID: { status: 403, type: 'permission_error', code: 'csrf_token_invalid', anthropicType: 'permission_error' },
  // The admin API: a job whose kind has no way to be stopped once queued (ingestions finish or fail on their own).
  LLMSVC_ERR_JOB_NOT_CANCELLABLE: { status: 400, type: 'invalid_request_error', code: 'job_not_cancellable', anthropicType: 'invalid_request_error' },
  // The file store (S3) could not be reached or refused a write: nothing was stored; retry later.
  LLMSVC_ERR_STORAGE_UNAVAILABLE: { status: 503, type: 'server_error', code: 'storage_unavailable', anthropicType: 'api_error' },
  // The rate limiter's Redis (redis_url) could not be reached: limits cannot be checked, so the request is refused (fail closed).
  LLMSVC_ERR_LIMITER_UNAVAILABLE: { status: 503, type: 'server_error', code: 'rate_limiter_unavailable', anthropicType: 'api_error' },
} as const satisfies Record<string, { status: number; type: string; code: string; anthropicType: string }>;

export type ErrorCode = keyof typeof errorCodes;
