import { randomFillSync } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const idLength = 24;

/** Random bytes drawn from the CSPRNG 4 KiB at a time: one call per ~160 ids instead of one per id
 *  (crypto.randomBytes costs tens of microseconds a call under load, whatever the size). Each byte
 *  is used once. */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** An id like OpenAI's (`chatcmpl-…`) or Anthropic's (`msg_…`): a prefix and 24 random base62
 *  characters. Bytes of 248 and above are skipped (rejection sampling), so every character is
 *  equally likely. */
export function newId(prefix: string, separator: '-' | '_' = '-'): string {
  let id = prefix + separator;
  for (let count = 0; count < idLength; ) {
    const byte = randomByte();
    if (byte >= 248) continue;
    id += alphabet[byte % 62];
    count++;
  }
  return id;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
