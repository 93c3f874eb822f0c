import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const secretPrefix = 'sk-llmsvc-';

/** A new API key: `sk-llmsvc-` and 43 base62 characters (≈256 bits). Rejection sampling keeps
 *  every character equally likely. */
export function generateSecret(): string {
  let body = '';
  while (body.length < 43) {
    for (const byte of randomBytes(48)) {
      if (byte < 248 && body.length < 43) body += alphabet[byte % 62];
    }
  }
  return secretPrefix + body;
}

/** SHA-256 is the right hash here: the secrets are random and long, so there is nothing for a
 *  slow password hash to protect, and every request must be checked quickly. */
export const hashSecret: (secret: string) => string =
  // crypto.hash (Node ≥ 20.12) hashes in one call, without a Hash object: every request pays this.
  typeof crypto.hash === 'function'
    ? (secret) => crypto.hash('sha256', secret, 'hex')
    : (secret) => createHash('sha256').update(secret, 'utf8').digest('hex');

export function hashesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** What is shown of a key after creation: its first characters. */
export function displayPrefix(secret: string): string {
  return secret.slice(0, secretPrefix.length + 4);
}
