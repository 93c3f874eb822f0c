import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AuthThrottle } from '../core/auth/authThrottle.js';
import { RedisAuthThrottle } from '../core/auth/redisAuthThrottle.js';
import { createLogger } from '../core/logger.js';
import { freePort, startRedis, type RedisProcess } from './support/redis.js';

let redis: RedisProcess | undefined;
let redisUrl: string;
const logger = createLogger('silent');

before(async () => {
  // .ci/run names a Redis; without it the test starts its own.
  redisUrl = process.env.LLMSVC_TEST_REDIS_URL ?? (redis = await startRedis()).url;
});
after(() => redis?.stop());

test('in memory: the failure past the limit waits until the first one leaves the minute', () => {
  let now = 1_000_000;
  const throttle = new AuthThrottle(2, () => now);
  assert.equal(throttle.recordFailure('a'), 0);
  now += 10_000;
  assert.equal(throttle.recordFailure('a'), 0);
  assert.equal(throttle.recordFailure('a'), 50_000);
  assert.equal(throttle.recordFailure('b'), 0, 'another address has its own count');
  now += 50_000;
  // The first failure has left the minute; the three since (the one just now included) still count.
  assert.equal(throttle.recordFailure('a'), 10_000);
  now += 10_000;
  assert.equal(throttle.recordFailure('a'), 0, 'only this failure and the one before are in the minute');
});

test('in Redis: two nodes share one count per address, and their answers agree with the in-memory one', async () => {
  const prefix = `llmsvc-throttle-test-${process.pid}-${Date.now()}:`;
  const [one, two] = await Promise.all([0, 1].map(() => RedisAuthThrottle.open({ url: redisUrl, prefix, limit: 3, clock: Date.now, logger })));
  try {
    const waits = [await one.recordFailure('10.0.0.9'), await two.recordFailure('10.0.0.9'), await one.recordFailure('10.0.0.9'), await two.recordFailure('10.0.0.9')];
    assert.deepEqual(waits.slice(0, 3), [0, 0, 0]);
    assert.ok(waits[3]! > 59_000 && waits[3]! <= 60_000, `wait ${waits[3]} ms`);
    assert.equal(await two.recordFailure('10.0.0.10'), 0, 'another address has its own count');
  } finally {
    await Promise.all([one.dispose(), two.dispose()]);
  }
});

test('Redis unreachable: failures are counted in this process instead, neither unlimited nor 503s', async () => {
  const port = await freePort(); // nothing listens there
  const throttle = await RedisAuthThrottle.open({ url: `redis://127.0.0.1:${port}`, prefix: 'x:', limit: 2, clock: Date.now, logger, commandTimeoutMs: 200 });
  try {
    assert.deepEqual([await throttle.recordFailure('a'), await throttle.recordFailure('a')], [0, 0]);
    assert.ok((await throttle.recordFailure('a')) > 0);
  } finally {
    await throttle.dispose();
  }
});
