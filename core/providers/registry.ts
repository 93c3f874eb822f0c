import type { ProviderType, ResolvedProvider } from '../config/index.js';
import { AnthropicProvider } from './anthropic/index.js';
import { OpenAiProvider } from './openai/index.js';
import { createOpenAiCompatibleProvider } from './openai-compatible/index.js';
import type { Provider } from './types.js';
import type { UpstreamProviderOptions } from './upstream/options.js';

/** The vendors' own endpoints, used when a provider entry gives no base_url. */
const defaultBaseUrls: Partial<Record<ProviderType, string>> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

/** One factory per upstream provider type. */
const upstreamFactories = {
  openai: (options) => new OpenAiProvider(options),
  anthropic: (options) => new AnthropicProvider(options),
  'openai-compatible': (options) => createOpenAiCompatibleProvider({ ...options, baseUrl: options.baseUrl as string }),
} satisfies Record<ProviderType, (options: UpstreamProviderOptions) => Provider>;

/** Where a provider entry sends requests: its base_url or its vendor's. */
export function baseUrlOf(settings: ResolvedProvider): string {
  return settings.base_url ?? (defaultBaseUrls[settings.type] as string);
}

/** Builds the upstream provider a config entry describes. */
export function createUpstreamProvider(settings: ResolvedProvider, defaultMaxTokens: number): Provider {
  const { resilience } = settings;
  return upstreamFactories[settings.type]({
    id: settings.id,
    baseUrl: baseUrlOf(settings),
    apiKey: settings.api_key,
    models: settings.models,
    // A backstop only: the resilience layer's first-byte and idle timeouts end calls sooner.
    connectTimeoutMs: resilience.connect_timeout_ms,
    requestTimeoutMs: resilience.connect_timeout_ms + Math.max(resilience.first_byte_timeout_ms, resilience.response_timeout_ms) + resilience.idle_timeout_ms,
    defaultMaxTokens,
  });
}
