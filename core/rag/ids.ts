import { randomBytes } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** An id like OpenAI's (`file-…`, `vs_…`): a prefix and 24 random base62 characters. (The same
 *  shape as core/server/ids.ts, which rag may not import.) */
export function newRagId(prefix: string, separator: '-' | '_'): string {
  let id = '';
  for (const byte of randomBytes(24)) id += alphabet[byte % alphabet.length];
  return `${prefix}${separator}${id}`;
}
