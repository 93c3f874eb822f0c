import type { Secret } from '../../config/index.js';

/** What an upstream provider is built from (from the config's providers entry). */
export interface UpstreamProviderOptions {
  id: string;
  baseUrl?: string;
  apiKey?: Secret;
  /** Models to list in GET /v1/models, as `<id>/<model>`. */
  models?: readonly string[];
  /** The SDK's own deadline for one call: a backstop behind the resilience layer's timeouts. */
  requestTimeoutMs: number;
  /** Connect timeout of the provider's HTTP transport. */
  connectTimeoutMs: number;
  /** Reserved for TPM and quotas when a request sets no max_tokens (the upstream decides). */
  defaultMaxTokens: number;
}
