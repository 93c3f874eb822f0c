import type { SamplingOptions } from '../../../providers/index.js';
import { seedForChoice } from './choices.js';

/** The sampling parameters chat and legacy completions share. */
export interface OpenAiSamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  stop?: string | string[] | null;
  logit_bias?: Record<string, number> | null;
}

/** OpenAI's sampling parameters (null meaning "default") for choice `index` of a request. */
export function samplingFrom(body: OpenAiSamplingFields, index: number): SamplingOptions {
  return {
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    seed: seedForChoice(body.seed, index),
    presencePenalty: body.presence_penalty ?? undefined,
    frequencyPenalty: body.frequency_penalty ?? undefined,
    stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? undefined),
    logitBias: logitBiasFrom(body.logit_bias),
  };
}

/** OpenAI's logit_bias (string keys) → token id → bias; an empty map is no bias. */
function logitBiasFrom(bias: Record<string, number> | null | undefined): Record<number, number> | undefined {
  if (!bias) return undefined;
  const entries = Object.entries(bias);
  return entries.length === 0 ? undefined : Object.fromEntries(entries.map(([token, value]) => [Number(token), value]));
}
