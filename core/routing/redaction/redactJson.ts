/** Applies `redact` to every string (values and keys) inside JSON text and writes it back
 *  compactly. Working on the parsed value rather than the raw text matters: in raw JSON an
 *  escape such as "\n" glues a letter to the value that follows it ("\n+49 30 …") and hides it
 *  from the detectors. Text that is not a JSON object or array is redacted as plain text, and
 *  JSON with nothing to redact is returned as it was (its formatting kept). */
export function redactJsonText(text: string, redact: (text: string) => string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return redact(text);
  }
  if (typeof parsed !== 'object' || parsed === null) return redact(text);
  let changed = false;
  const redactString = (value: string) => {
    const redacted = redact(value);
    if (redacted !== value) changed = true;
    return redacted;
  };
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return redactString(value);
    if (Array.isArray(value)) return value.map(walk);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [redactString(key), walk(inner)]));
    }
    return value;
  };
  const redacted = walk(parsed);
  return changed ? JSON.stringify(redacted) : text;
}
