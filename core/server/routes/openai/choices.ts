import type { ChoicesUsage } from '../../runChoices.js';

/** Seeds differ per choice so that n > 1 gives n different answers, reproducibly. */
export function seedForChoice(seed: number | null | undefined, index: number): number | undefined {
  if (seed === null || seed === undefined) return undefined;
  return seed + index;
}

export function openaiUsage(usage: ChoicesUsage) {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}
