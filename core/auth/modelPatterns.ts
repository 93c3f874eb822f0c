/** Compiled wildcard patterns, by pattern: a key's patterns are checked on every request. Bounded
 *  by the patterns the operator wrote into keys. */
const compiled = new Map<string, RegExp>();

/** Whether a model id is allowed by a key's patterns: exact ids, or `*` as a wildcard
 *  (`llama-*`, `*`). */
export function modelAllowed(patterns: readonly string[], model: string): boolean {
  for (const pattern of patterns) {
    if (pattern === '*' || pattern === model) return true;
    if (pattern.includes('*') && wildcard(pattern).test(model)) return true;
  }
  return false;
}

function wildcard(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
    compiled.set(pattern, regex);
  }
  return regex;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
