import { randomBytes } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** An id like OpenAI's (`chatcmpl-…`) or Anthropic's (`msg_…`): a prefix and 24 random base62 characters. */
export function newId(prefix: string, separator: '-' | '_' = '-'): string {
  const bytes = randomBytes(24);
  let id = '';
  for (const byte of bytes) id += alphabet[byte % alphabet.length];
  return `${prefix}${separator}${id}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
