import type { Secret } from '../../config/index.js';
import type { ProviderModel } from '../types.js';
import type { UpstreamTransport } from './transport.js';

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

/** The settings both official SDK clients share: llmsvc's transport, the key (servers that need
 *  none still get a header, which the SDKs insist on), no SDK retries (core/routing retries,
 *  across targets) and a backstop deadline. */
export function sdkClientOptions(options: UpstreamProviderOptions, transport: UpstreamTransport) {
  return { fetch: transport.fetch, apiKey: options.apiKey?.reveal() ?? 'no-key', maxRetries: 0, timeout: options.requestTimeoutMs };
}

/** The models a provider entry lists, as `<provider>/<model>`. */
export function listedModels(options: UpstreamProviderOptions): ProviderModel[] {
  return (options.models ?? []).map((model) => ({ id: `${options.id}/${model}`, created: 0, ownedBy: options.id }));
}

/** The W3C `traceparent` header of a traced attempt, as SDK request options take headers. */
export function traceHeaders(request: { traceparent?: string }): Record<string, string> | undefined {
  return request.traceparent === undefined ? undefined : { traceparent: request.traceparent };
}
