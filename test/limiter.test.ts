import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyState, Limiter, type QuotaUsage, type TokenReservation } from '../core/auth/limiter.js';
import type { ApiKeyRecord } from '../core/store/index.js';

/** A small deterministic PRNG (mulberry32): a failure replays with the same seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const key = (limits: Partial<ApiKeyRecord>): ApiKeyRecord => ({
  id: 'key_test',
  name: 'test',
  prefix: 'sk-llmsvc-test',
  secretHash: '',
  scope: 'user',
  models: ['*'],
  rpm: null,
  tpm: null,
  maxConcurrent: null,
  dailyTokens: null,
  monthlyTokens: null,
  expiresAt: null,
  createdAt: 0,
  lastUsedAt: null,
  disabled: false,
  revokedAt: null,
  cache: false,
  ...limits,
});
const noQuota = (): QuotaUsage => ({ day: 0, month: 0, msUntilDayEnds: 1, msUntilMonthEnds: 1 });

describe('limiter running sums', () => {
  test('the token window sum equals a brute-force recount under random push, settle and prune', () => {
    for (const seed of [1, 2, 3, 42, 1234]) {
      const next = random(seed);
      const state = new KeyState();
      let now = 0;
      const open: Parameters<KeyState['setTokens']>[0][] = [];
      for (let step = 0; step < 20_000; step++) {
        const action = next();
        if (action < 0.45) {
          open.push(state.pushTokens(now, Math.floor(next() * 5000)));
        } else if (action < 0.8 && open.length > 0) {
          // Settle a random open reservation, possibly long after it left the window.
          const [entry] = open.splice(Math.floor(next() * open.length), 1);
          state.setTokens(entry!, Math.floor(next() * 8000));
        } else {
          now += Math.floor(next() * 3000);
          state.prune(now);
        }
        if (step % 97 === 0) assert.equal(state.tokensInWindow, state.recount(), `seed ${seed}, step ${step}`);
      }
      state.prune(now + 60_000);
      assert.equal(state.tokensInWindow, 0, 'an empty window sums to 0');
      assert.equal(state.tokens.length, 0);
    }
  });

  test('headers and 429s follow a brute-force model of both windows', () => {
    const next = random(7);
    let now = 1_000_000;
    const limiter = new Limiter(() => now);
    const limited = key({ rpm: 400, tpm: 60_000 });
    // The model: every admitted request's time, every reservation's time and current tokens.
    const requestTimes: number[] = [];
    const tokenEntries: { at: number; tokens: number }[] = [];
    const open: { reservation: TokenReservation; entry: { at: number; tokens: number } }[] = [];
    const inWindow = <T>(items: T[], at: (item: T) => number) => items.filter((item) => at(item) > now - 60_000);
    let refusedRequests = 0;
    let refusedTokens = 0;
    for (let step = 0; step < 5_000; step++) {
      now += Math.floor(next() * 200);
      if (next() < 0.3 && open.length > 0) {
        const [settling] = open.splice(Math.floor(next() * open.length), 1);
        const actual = Math.floor(next() * 400);
        settling!.reservation.settle(actual);
        settling!.entry.tokens = actual;
        continue;
      }
      const requestsUsed = inWindow(requestTimes, (at) => at).length;
      let end: (() => void) | undefined;
      try {
        end = limiter.admit(limited);
        assert.ok(requestsUsed < 400, 'admitted only below the RPM');
        requestTimes.push(now);
      } catch (error) {
        assert.equal(requestsUsed, 400, 'refused only at the RPM');
        assert.equal((error as { code: string }).code, 'LLMSVC_ERR_RATE_LIMIT_REQUESTS');
        refusedRequests++;
        continue;
      }
      end();
      const tokens = Math.floor(next() * 800);
      const tokensUsed = inWindow(tokenEntries, (entry) => entry.at).reduce((sum, entry) => sum + entry.tokens, 0);
      try {
        const reservation = limiter.reserve(limited, tokens, noQuota);
        assert.ok(tokensUsed + tokens <= 60_000, 'reserved only within the TPM');
        const entry = { at: now, tokens };
        tokenEntries.push(entry);
        open.push({ reservation, entry });
      } catch (error) {
        assert.ok(tokensUsed + tokens > 60_000, 'refused only beyond the TPM');
        assert.equal((error as { code: string }).code, 'LLMSVC_ERR_RATE_LIMIT_TOKENS');
        refusedTokens++;
      }
      const headers = limiter.headers(limited);
      const windowTokens = inWindow(tokenEntries, (entry) => entry.at).reduce((sum, entry) => sum + entry.tokens, 0);
      assert.equal(headers['x-ratelimit-remaining-tokens'], String(Math.max(0, 60_000 - windowTokens)), `step ${step}`);
      assert.equal(headers['x-ratelimit-remaining-requests'], String(400 - inWindow(requestTimes, (at) => at).length), `step ${step}`);
    }
    assert.ok(refusedRequests > 0 && refusedTokens > 0, 'the run reached both limits');
  });
});
