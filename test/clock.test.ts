import assert from 'node:assert/strict';
import { test } from 'node:test';
import { msUntilNextUtcDay, msUntilNextUtcMonth, utcDay, utcMonthStartDay } from '../core/auth/index.js';

test('UTC day and month boundaries for quotas', () => {
  const lastMinuteOfYear = Date.UTC(2026, 11, 31, 23, 59, 0);
  assert.equal(utcDay(lastMinuteOfYear), '2026-12-31');
  assert.equal(utcMonthStartDay(lastMinuteOfYear), '2026-12-01');
  assert.equal(msUntilNextUtcDay(lastMinuteOfYear), 60_000);
  assert.equal(msUntilNextUtcMonth(lastMinuteOfYear), 60_000, 'December rolls over into January');
  assert.equal(msUntilNextUtcMonth(Date.UTC(2028, 1, 28, 0, 0, 0)), 2 * 86_400_000, 'a leap February has 29 days');
});
