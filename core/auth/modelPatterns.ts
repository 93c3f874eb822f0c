/** Whether a model id is allowed by a key's patterns: exact ids, or `*` as a wildcard
 *  (`llama-*`, `*`). */
export function modelAllowed(patterns: readonly string[], model: string): boolean {
  return patterns.some((pattern) => {
    if (!pattern.includes('*')) return pattern === model;
    const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
    return regex.test(model);
  });
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
