import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { MemoryRateLimiter } from '../core/auth/rateLimiter.js';
import { RedisRateLimiter } from '../core/auth/redisLimiter.js';
import { createLogger } from '../core/logger.js';
import type { ApiKeyRecord } from '../core/store/index.js';
import { startHeldUpstream, type HeldUpstream } from './support/heldUpstream.js';
import { freePort, startRedis, type RedisProcess } from './support/redis.js';
import { authedFetch, startTestServer, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

/** Waits for `condition`, failing the test with `what` if it never holds. */
async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  assert.ok(await waitFor(condition, timeoutMs), `timed out waiting for: ${what}`);
}


// .ci/run starts a Redis and names it; without it the test starts its own (never skipped).
let ownRedis: RedisProcess | undefined;
let redisUrl: string;
let upstream: HeldUpstream;
let nodes: TestServer[] = [];
const leaseMs = 2000;
/** Every run writes under its own prefix: a shared Redis may hold earlier runs' keys. */
const prefix = `llmsvc-test-${process.pid}-${Date.now()}:`;

function nodeSettings() {
  return {
    redis_url: redisUrl,
    redis_prefix: prefix,
    redis_lease_ms: leaseMs,
    providers: [{ id: 'held', type: 'openai-compatible' as const, base_url: upstream.url, resilience: { max_retries: 0, response_timeout_ms: 120_000 } }],
    routes: [{ model: 'held-model', targets: [{ provider: 'held', model: 'held' }] }],
  };
}

/** Creates a key on the first node and installs the same record (id, secret hash, limits) on the
 *  others, as a shared database would. */
async function createSharedKey(servers: TestServer[], body: Record<string, unknown>): Promise<{ record: ApiKeyRecord; secret: string }> {
  const response = await authedFetch(`${servers[0]!.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shared', ...body }) });
  assert.equal(response.status, 201, await response.clone().text());
  const { id, key } = (await response.json()) as { id: string; key: string };
  const record = await servers[0]!.service.keys.get(id);
  for (const server of servers.slice(1)) await server.service.store.apiKeys.save(record);
  return { record, secret: key };
}

const chat = (url: string, secret: string) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'held-model', messages: [{ role: 'user', content: 'hold me' }], max_tokens: 4 }),
  });

const limitHeaderNames = (response: Response) => [...response.headers.keys()].filter((name) => name.startsWith('x-ratelimit-') || name === 'retry-after').sort();

before(async () => {
  if (process.env.LLMSVC_TEST_REDIS_URL) redisUrl = process.env.LLMSVC_TEST_REDIS_URL;
  else {
    ownRedis = await startRedis();
    redisUrl = ownRedis.url;
  }
  upstream = await startHeldUpstream();
  nodes = [await startTestServer(nodeSettings()), await startTestServer(nodeSettings()), await startTestServer(nodeSettings())];
});

after(async () => {
  upstream?.releaseAll();
  await Promise.all(nodes.map((node) => node.stop()));
  await upstream?.close();
  await ownRedis?.stop();
});

describe('Redis limiter across three llmsvc nodes', () => {
  test('600 concurrent requests spread over three nodes on a key with RPM 100: exactly 100 pass, the rest get the in-process limiter\'s 429', async () => {
    const { record, secret } = await createSharedKey(nodes, { rpm: 100 });
    const responses = await Promise.all(
      Array.from({ length: 600 }, (_, index) => fetch(`${nodes[index % 3]!.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })),
    );
    const statuses = responses.map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 200).length, 100);
    assert.equal(statuses.filter((status) => status === 429).length, 500);
    // Every node admitted some: the window is shared, not split.
    for (let node = 0; node < 3; node++) assert.ok(statuses.some((status, index) => status === 200 && index % 3 === node), `node ${node + 1} admitted none`);
    const limited = responses.filter((response) => response.status === 429);
    for (const response of limited) {
      assert.equal(response.headers.get('x-ratelimit-limit-requests'), '100');
      assert.equal(response.headers.get('x-ratelimit-remaining-requests'), '0');
      assert.match(response.headers.get('x-ratelimit-reset-requests') ?? '', /^\d+(ms|s|m\d+s)$/);
      assert.ok(Number(response.headers.get('retry-after')) >= 1);
    }
    const body = (await limited[0]!.json()) as { error: { code: string; type: string; message: string } };
    for (const response of responses) if (response.status === 200) await response.body?.cancel();

    // The same key on a node with the in-process limiter: the same 429, header for header.
    const memory = await startTestServer({});
    try {
      await memory.service.store.apiKeys.save(record);
      const local = await Promise.all(Array.from({ length: 101 }, () => fetch(`${memory.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } })));
      const localLimited = local.find((response) => response.status === 429)!;
      assert.ok(localLimited, 'the in-process limiter refused the 101st');
      assert.deepEqual(limitHeaderNames(limited[0]!), limitHeaderNames(localLimited));
      for (const name of ['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests']) assert.equal(limited[0]!.headers.get(name), localLimited.headers.get(name));
      const localBody = (await localLimited.json()) as typeof body;
      assert.equal(body.error.code, localBody.error.code);
      assert.equal(body.error.type, localBody.error.type);
      // The message differs only in the wait it names.
      assert.equal(body.error.message.replace(/Retry in \S+,/, ''), localBody.error.message.replace(/Retry in \S+,/, ''));
      for (const response of local) if (!response.bodyUsed) await response.body?.cancel();
    } finally {
      await memory.stop();
    }
  });

  test('a concurrency cap of 3 holds across nodes: 3 requests run, the others get 429 at once, and the slots free when they end', async () => {
    const { secret } = await createSharedKey(nodes, { max_concurrent: 3 });
    const before = upstream.received;
    const pending = Array.from({ length: 15 }, (_, index) => chat(nodes[index % 3]!.url, secret));
    const refused: Response[] = [];
    for (const promise of pending) void promise.then((response) => response.status === 429 && refused.push(response));
    await until(() => refused.length === 12 && upstream.waiting === 3, 30_000, 'twelve refusals and three held requests');
    assert.equal(upstream.received - before, 3, 'only three reached the upstream');
    const body = (await refused[0]!.json()) as { error: { code: string } };
    assert.equal(body.error.code, 'concurrency_limit_exceeded');
    assert.equal(refused[0]!.headers.get('retry-after'), '1');
    upstream.releaseAll();
    const statuses = (await Promise.all(pending)).map((response) => response.status);
    assert.equal(statuses.filter((status) => status === 200).length, 3);
    // All three slots are free again: three more run at once, on any node.
    const again = [chat(nodes[2]!.url, secret), chat(nodes[1]!.url, secret), chat(nodes[0]!.url, secret)];
    await until(() => upstream.waiting === 3, 30_000, 'three held again');
    upstream.releaseAll();
    assert.deepEqual((await Promise.all(again)).map((response) => response.status), [200, 200, 200]);
  });

  test('a request on one node settles its tokens in the window that the other nodes read', async () => {
    const { secret } = await createSharedKey(nodes, { tpm: 1000 });
    const running = chat(nodes[0]!.url, secret);
    await until(() => upstream.waiting === 1, 30_000, 'the request held');
    upstream.releaseAll();
    assert.equal((await running).status, 200);
    // Settled to what the upstream reported (5 prompt + 2 completion tokens).
    await until(
      async () => {
        const after = await fetch(`${nodes[1]!.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
        return after.headers.get('x-ratelimit-remaining-tokens') === String(1000 - 7);
      },
      10_000,
      'the reservation settled to 7 tokens',
    );
  });

  test('a held slot is refreshed past its lease while its request runs', async () => {
    const { secret } = await createSharedKey(nodes, { max_concurrent: 1 });
    const running = chat(nodes[0]!.url, secret);
    await until(() => upstream.waiting === 1, 30_000, 'the request held');
    await new Promise((resolve) => setTimeout(resolve, leaseMs * 2));
    const refused = await chat(nodes[1]!.url, secret);
    assert.equal(refused.status, 429, 'the running request still holds its slot');
    upstream.releaseAll();
    assert.equal((await running).status, 200);
  });

  test('a node killed mid-request frees its concurrency slot once the lease has passed', async () => {
    const { record, secret } = await createSharedKey(nodes, { max_concurrent: 1 });
    const child = await startNodeProcess([record]);
    try {
      const orphan = chat(child.url, secret).catch(() => undefined);
      await until(() => upstream.waiting === 1, 60_000, 'the request on the child node reached the upstream');
      child.process.kill('SIGKILL');
      await child.exited;
      const killedAt = Date.now();
      const first = await chat(nodes[0]!.url, secret);
      assert.equal(first.status, 429, "the killed node's slot is still held until its lease ends");
      await first.body?.cancel();
      // Polled until the lease lapses; then the slot is free.
      let admitted: Promise<Response> | undefined;
      await until(
        async () => {
          const attempt = await fetch(`${nodes[1]!.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
          await attempt.body?.cancel();
          if (attempt.status !== 200) return false;
          admitted = chat(nodes[1]!.url, secret);
          return true;
        },
        leaseMs * 5,
        'the slot freed',
      );
      const freedAfter = Date.now() - killedAt;
      assert.ok(freedAfter <= leaseMs * 5, `freed after ${freedAfter} ms`);
      await until(() => upstream.waiting >= 1, 30_000, 'the new request runs');
      upstream.releaseAll();
      assert.equal((await admitted!).status, 200);
      await orphan;
    } finally {
      child.process.kill('SIGKILL');
    }
  });
});

/** A node in a child process (so that it can be killed), on its own data dir, with these keys. */
async function startNodeProcess(keys: ApiKeyRecord[]): Promise<{ url: string; process: ChildProcess; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'support/limiterNode.ts')], {
    env: { ...process.env, LLMSVC_TEST_NODE_SETTINGS: JSON.stringify(nodeSettings()), LLMSVC_TEST_NODE_KEYS: JSON.stringify(keys) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the node did not start; stderr: ${stderr}`)), 60_000);
    void exited.then(() => reject(new Error(`the node exited before listening; stderr: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^node listening on (\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
  });
  return { url, process: child, exited };
}

describe('Redis limiter when Redis goes away', () => {
  test('limited keys get a 503 in the provider error shape (never unlimited), and work again once Redis is back', async () => {
    const redis = await startRedis();
    const port = Number(new URL(redis.url).port);
    let restarted: RedisProcess | undefined;
    const node = await startTestServer({ ...nodeSettings(), redis_url: redis.url });
    try {
      const { secret } = await createSharedKey([node], { rpm: 1000 });
      const models = () => fetch(`${node.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
      assert.equal((await models()).status, 200);
      await redis.stop();
      const refused = await models();
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('retry-after'), '1');
      const body = (await refused.json()) as { error: { type: string; code: string; message: string } };
      assert.equal(body.error.type, 'server_error');
      assert.equal(body.error.code, 'rate_limiter_unavailable');
      assert.match(body.error.message, /Redis/);
      // The Anthropic shape too.
      const anthropic = await fetch(`${node.url}/v1/messages`, {
        method: 'POST',
        headers: { 'x-api-key': secret, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'held-model', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(anthropic.status, 503);
      assert.equal(((await anthropic.json()) as { type: string; error: { type: string } }).type, 'error');
      // A key without limits needs no shared state (the admin key still manages the node).
      assert.equal((await authedFetch(`${node.url}/admin/v1/keys`)).status, 200);
      restarted = await startRedis(port);
      await until(async () => (await models()).status === 200, 15_000, 'the limiter reconnected');
    } finally {
      await node.stop();
      await restarted?.stop();
    }
  });
});

describe('Redis limiter and the in-process limiter side by side', () => {
  test('the same random sequence of admissions, reservations and settlements gets the same answers and remaining counts', async () => {
    const logger = createLogger('silent');
    const redis = await RedisRateLimiter.open({ url: redisUrl, prefix: `${prefix}twin:`, leaseMs: 60_000, logger });
    const memory = new MemoryRateLimiter(Date.now);
    let seed = 17;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const key = { id: 'key_twin', rpm: 150, tpm: 20_000, maxConcurrent: 6, dailyTokens: 30_000, monthlyTokens: null } as ApiKeyRecord;
    const quota = () => ({ day: 1000, month: 1000, msUntilDayEnds: 3_600_000, msUntilMonthEnds: 3_600_000 });
    type Held = { release(): void; settle(tokens: number): void };
    const heldRedis: Held[] = [];
    const heldMemory: Held[] = [];
    const outcome = async (step: () => unknown) => {
      try {
        return { ok: true as const, value: await step() };
      } catch (error) {
        return { ok: false as const, code: (error as { code: string }).code, headers: (error as { headers: Record<string, string> }).headers };
      }
    };
    const remaining = (headers: Record<string, string>) => [headers['x-ratelimit-remaining-requests'], headers['x-ratelimit-remaining-tokens']];
    let refusals = 0;
    try {
      for (let step = 0; step < 400; step++) {
        const roll = next();
        if (roll < 0.3 && heldRedis.length > 0) {
          const index = Math.floor(next() * heldRedis.length);
          const used = Math.floor(next() * 300);
          for (const held of [heldRedis, heldMemory]) {
            const [ending] = held.splice(index, 1);
            ending!.settle(used);
            ending!.release();
          }
          continue;
        }
        const tokens = roll < 0.6 ? 0 : Math.floor(next() * 500);
        const [fromRedis, fromMemory] = [await outcome(() => redis.admit(key, tokens, quota)), await outcome(() => memory.admit(key, tokens, quota))];
        assert.equal(fromRedis.ok, fromMemory.ok, `step ${step}`);
        if (!fromRedis.ok && !fromMemory.ok) {
          refusals++;
          assert.equal(fromRedis.code, fromMemory.code, `step ${step}`);
          assert.deepEqual(remaining(fromRedis.headers), remaining(fromMemory.headers), `step ${step}`);
          continue;
        }
        const [a, b] = [fromRedis.value, fromMemory.value] as Awaited<ReturnType<typeof memory.admit>>[];
        assert.equal(a!.refusal?.code, b!.refusal?.code, `step ${step}`);
        assert.deepEqual(remaining(a!.headers), remaining(b!.headers), `step ${step}`);
        if (a!.refusal) refusals++;
        heldRedis.push({ release: a!.release, settle: (used) => a!.reservation?.settle(used) });
        heldMemory.push({ release: b!.release, settle: (used) => b!.reservation?.settle(used) });
        // The settlements are not awaited by requests; let them land before the next comparison.
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.ok(refusals > 0, 'the run reached a limit');
    } finally {
      await redis.dispose();
    }
  });
});

describe('Redis limiter when Redis hangs', () => {
  test('a Redis that stops answering (SIGSTOP) gets limited requests their 503 after the command timeout, and they pass again once it answers', async () => {
    const hanging = await startRedis();
    const limiter = await RedisRateLimiter.open({ url: hanging.url, prefix: `${prefix}hang:`, leaseMs: 60_000, logger: createLogger('silent'), commandTimeoutMs: 300 });
    const key = { id: 'key_hang', rpm: 1000, tpm: null, maxConcurrent: null, dailyTokens: null, monthlyTokens: null } as ApiKeyRecord;
    const quota = () => ({ day: 0, month: 0, msUntilDayEnds: 1, msUntilMonthEnds: 1 });
    try {
      (await limiter.admit(key, undefined, quota)).release();
      process.kill(hanging.pid!, 'SIGSTOP');
      const started = performance.now();
      await assert.rejects(Promise.resolve(limiter.admit(key, undefined, quota)), (error: { code?: string }) => error.code === 'LLMSVC_ERR_LIMITER_UNAVAILABLE');
      const waited = performance.now() - started;
      assert.ok(waited >= 250, `it waited for the timeout (${Math.round(waited)} ms)`);
      assert.ok(waited < 5_000, `it did not wait much past the timeout (${Math.round(waited)} ms)`);
      process.kill(hanging.pid!, 'SIGCONT');
      await until(async () => {
        try {
          (await limiter.admit(key, undefined, quota)).release();
          return true;
        } catch {
          return false;
        }
      }, 10_000, 'the limiter answers again');
    } finally {
      process.kill(hanging.pid!, 'SIGCONT');
      await limiter.dispose();
      await hanging.stop();
    }
  });
});
