import { OpenAiProvider } from '../openai/index.js';
import type { UpstreamProviderOptions } from '../upstream/options.js';

/** Any server that speaks OpenAI's API (vLLM, Ollama, llama-server, LM Studio, another llmsvc).
 *  The same client as OpenAI's, with two differences: the base URL is required, and the
 *  completion budget goes in max_tokens, the field these servers know. */
export function createOpenAiCompatibleProvider(options: UpstreamProviderOptions & { baseUrl: string }): OpenAiProvider {
  return new OpenAiProvider({ ...options, tokenLimitField: 'max_tokens' });
}
