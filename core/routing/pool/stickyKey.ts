import type { ChatRequest, CompletionRequest } from '../../providers/index.js';

/** The start of a conversation that stays the same from turn to turn — its system messages and
 *  first user message (a completion: its prompt) — cut to `chars` characters, as a 32-bit hash;
 *  undefined when sticky choice is off (chars 0). Engines with prefix caching (vLLM, llama-server,
 *  llmsvc) keep the KV cache of that prefix, so sending the conversation's later turns to the same
 *  member saves evaluating it again. */
export function conversationPrefixHash(request: ChatRequest | CompletionRequest, chars: number): number | undefined {
  if (chars <= 0) return undefined;
  let prefix = '';
  if ('messages' in request) {
    for (const message of request.messages) {
      if (message.role !== 'system' && message.role !== 'user') continue;
      prefix += `${message.role}\u0000${message.content}\u0000`;
      if (message.role === 'user' || prefix.length >= chars) break;
    }
  } else {
    prefix = typeof request.prompt === 'string' ? request.prompt.slice(0, chars) : request.prompt.slice(0, chars).join(',');
  }
  return fnv1a(prefix.slice(0, chars));
}

/** FNV-1a over UTF-16 code units: fast, no allocation, good enough to spread prefixes. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** Rendezvous (highest-random-weight) score of a member for a prefix: the prefix goes to the
 *  member with the highest score, so a member joining or leaving moves only the prefixes that
 *  member wins or held. `memberSeed` is the hash of the member's base URL. The mix is murmur3's
 *  finaliser, so that nearby inputs give unrelated scores. */
export function rendezvousScore(prefixHash: number, memberSeed: number): number {
  let hash = (prefixHash ^ Math.imul(memberSeed, 0x9e3779b1)) >>> 0;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
