import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { resolveWorkers } from '../apps/cli/commands/serveWorkers.js';
import { RedisAuthThrottle } from '../core/auth/redisAuthThrottle.js';
import { LimiterHost } from '../core/cluster/limiterHost.js';
import { ConfigError, loadConfig } from '../core/config/index.js';
import { LiveStats } from '../core/server/liveStats.js';
import { createLogger } from '../core/logger.js';
import { runCli, runCliAsync, startServe, type ServeProcess } from './support/cli.js';
import { startEchoUpstream, type EchoUpstream } from './support/echoUpstream.js';
import { startRedis, type RedisProcess } from './support/redis.js';
import { tempDir, testAdminKey } from './support/server.js';

const admin = { authorization: `Bearer ${testAdminKey}`, 'content-type': 'application/json' };
const chatBody = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hello there' }] });

interface LogLine {
  msg: string;
  worker?: number;
  pid?: number;
  keyId?: string;
  statusCode?: number;
  url?: string;
}

function logLines(serve: ServeProcess): LogLine[] {
  return serve
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The workers (by index) that logged a finished request of this key. */
function workersThatServed(serve: ServeProcess, keyId: string): Set<number> {
  return new Set(logLines(serve).filter((line) => line.msg === 'request completed' && line.keyId === keyId).map((line) => line.worker!));
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createKey(url: string, limits: Record<string, unknown>): Promise<{ id: string; key: string }> {
  const response = await fetch(`${url}/admin/v1/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'workers-test', ...limits }) });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as { id: string; key: string };
}

/** `count` chat completions at once, each on a connection of its own (so the cluster spreads
 *  them over the workers); their statuses. */
async function burst(url: string, key: string, count: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', connection: 'close' },
        body: chatBody,
      });
      await response.arrayBuffer();
      return response.status;
    }),
  );
}

const countOf = (statuses: number[], status: number) => statuses.filter((each) => each === status).length;

/** The throttle's address: another loopback address than the other tests' 127.0.0.1, so that
 *  the failures counted are this test's alone. */
const guesser = '127.0.0.2';

/** `count` requests at once from `guesser` with a wrong key, each on a connection of its own (so
 *  the cluster spreads them over the workers): to the API, or to the console's sign-in. */
async function failedLogins(url: string, count: number, to: 'api' | 'console' = 'api'): Promise<number[]> {
  const { hostname, port } = new URL(url);
  const send = () =>
    new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: hostname,
          port,
          localAddress: guesser,
          agent: false,
          method: to === 'api' ? 'GET' : 'POST',
          path: to === 'api' ? '/v1/models' : '/admin/v1/session',
          headers: to === 'api' ? { authorization: 'Bearer sk-llmsvc-guess' } : { 'content-type': 'application/json' },
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode!));
        },
      );
      request.on('error', reject);
      request.end(to === 'api' ? undefined : JSON.stringify({ key: 'sk-llmsvc-guess' }));
    });
  return Promise.all(Array.from({ length: count }, send));
}

/** The workers (by index) that logged a refusal with this status of a request to `url` since line `since`. */
function workersThatRefused(serve: ServeProcess, since: number, url: string, status: number): Set<number> {
  return new Set(
    logLines(serve)
      .slice(since)
      .filter((line) => line.msg === 'request completed' && line.url === url && line.statusCode === status)
      .map((line) => line.worker!),
  );
}

describe('llmsvc serve --workers 2 (real processes on loopback)', () => {
  let upstream: EchoUpstream;
  let serve: ServeProcess;
  let chatsSent = 0;

  before(async () => {
    upstream = await startEchoUpstream();
    const dir = tempDir();
    const modelsDir = path.join(dir, 'models');
    fs.mkdirSync(modelsDir);
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        default_model: false,
        providers: [{ id: 'echo', type: 'openai-compatible', base_url: upstream.url }],
        routes: [{ model: 'echo', targets: [{ provider: 'echo', model: 'echo' }] }],
      }),
    );
    serve = await startServe(['--config', configFile, '--data-dir', path.join(dir, 'data'), '--models-dir', modelsDir, '--workers', '2']);
  });

  after(async () => {
    if (serve?.child.exitCode === null) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
    await upstream?.close();
  });

  test('two workers listen on the one port and the primary says how limits are shared', async () => {
    assert.ok(serve.stdoutLines.some((line) => line === 'Serving with 2 HTTP workers on one port; rate limits shared through this primary process.'), serve.stdoutLines.join('\n'));
    // Logs are written asynchronously: the primary's lines may reach stderr after its stdout line.
    const listening = await waitFor('both workers to be logged listening', () => {
      const workers = new Set(logLines(serve).filter((line) => line.msg === 'HTTP worker listening').map((line) => line.worker));
      return workers.size === 2 ? workers : undefined;
    });
    assert.deepEqual(listening, new Set([0, 1]));
  });

  test('a key with rpm 12: of 40 concurrent requests spread over both workers, exactly 12 pass', async () => {
    const { id, key } = await createKey(serve.url, { rpm: 12 });
    const statuses = await burst(serve.url, key, 40);
    chatsSent += 40;
    assert.equal(countOf(statuses, 200), 12, `statuses: ${statuses.join(',')}`);
    assert.equal(countOf(statuses, 429), 28);
    const served = await waitFor('both workers to log the key', () => {
      const workers = workersThatServed(serve, id);
      return workers.size === 2 ? workers : undefined;
    });
    assert.deepEqual(served, new Set([0, 1]));
    // The window is the box's: the next request is refused whichever worker takes it.
    assert.deepEqual(await burst(serve.url, key, 4), [429, 429, 429, 429]);
    chatsSent += 4;
  });

  test('a concurrency cap of 1 holds across the workers', async () => {
    const { key } = await createKey(serve.url, { max_concurrent: 1 });
    const statuses = await burst(serve.url, key, 12);
    chatsSent += 12;
    assert.ok(countOf(statuses, 200) >= 1, `statuses: ${statuses.join(',')}`);
    assert.equal(countOf(statuses, 200) + countOf(statuses, 429), 12);
    // Every slot was freed when its request ended: one more request passes.
    assert.deepEqual(await burst(serve.url, key, 1), [200]);
    chatsSent += 1;
  });

  test('a key revoked through one worker fails on every worker right after', async () => {
    const { id, key } = await createKey(serve.url, {});
    // Both workers authenticate the key first, so both hold it in their key caches.
    assert.deepEqual(new Set(await burst(serve.url, key, 16)), new Set([200]));
    chatsSent += 16;
    await waitFor('both workers to serve the key', () => (workersThatServed(serve, id).size === 2 ? true : undefined));
    const revoked = await fetch(`${serve.url}/admin/v1/keys/${id}`, { method: 'DELETE', headers: { authorization: admin.authorization } });
    assert.equal(revoked.status, 200);
    const before = logLines(serve).length;
    // 10: auth_failure_limit (10 a minute per address, counted for the whole box); past it the refusals would be 429s.
    const statuses = await burst(serve.url, key, 10);
    chatsSent += 10;
    assert.deepEqual(new Set(statuses), new Set([401]));
    const refusedBy = await waitFor('both workers to refuse the key', () => {
      const workers = new Set(
        logLines(serve)
          .slice(before)
          .filter((line) => line.msg === 'request completed' && line.statusCode === 401)
          .map((line) => line.worker!),
      );
      return workers.size === 2 ? workers : undefined;
    });
    assert.deepEqual(refusedBy, new Set([0, 1]));
  });

  test('failed logins are throttled box-wide: of 16 at once from one address over both workers, exactly auth_failure_limit (10) are 401s', async () => {
    const since = logLines(serve).length;
    const statuses = await failedLogins(serve.url, 16);
    assert.equal(countOf(statuses, 401), 10, `statuses: ${statuses.join(',')}`);
    assert.equal(countOf(statuses, 429), 6, `statuses: ${statuses.join(',')}`);
    // Both workers refused with 401s: counted per worker, each would have allowed 10.
    assert.deepEqual(await waitFor('both workers to log 401s', () => (workersThatRefused(serve, since, '/v1/models', 401).size === 2 ? true : undefined)), true);
    // The address stays throttled whichever worker answers.
    assert.deepEqual(await failedLogins(serve.url, 4), [429, 429, 429, 429]);
    // The console's sign-in keeps a count of its own, also box-wide.
    const signIns = await failedLogins(serve.url, 13, 'console');
    assert.equal(countOf(signIns, 401), 10, `statuses: ${signIns.join(',')}`);
    assert.equal(countOf(signIns, 429), 3, `statuses: ${signIns.join(',')}`);
  });

  test('/metrics and /admin/v1/stats count the requests of both workers', async () => {
    const text = await (await fetch(`${serve.url}/metrics`, { headers: { authorization: admin.authorization } })).text();
    const counted = [...text.matchAll(/^llmsvc_http_requests_total\{method="POST",route="\/v1\/chat\/completions",status="\d+"\} (\d+)$/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    assert.equal(counted, chatsSent);
    const perWorker = [0, 1].map(
      (worker) => logLines(serve).filter((line) => line.msg === 'request completed' && line.url === '/v1/chat/completions' && line.worker === worker).length,
    );
    assert.ok(perWorker.every((served) => served > 0 && served < chatsSent), `per worker: ${perWorker.join(', ')}`);
    const stats = (await (await fetch(`${serve.url}/admin/v1/stats`, { headers: { authorization: admin.authorization } })).json()) as {
      totals: { series: { requests: number[] } };
    };
    const inWindow = stats.totals.series.requests.reduce((sum, value) => sum + value, 0);
    assert.ok(inWindow >= chatsSent, `stats counted ${inWindow} requests, ${chatsSent} chat completions were sent`);
  });

  test('batches created through any worker run once, in worker 0 (the once-per-box work)', async () => {
    const client = new OpenAI({ baseURL: `${serve.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
    const lines = Array.from({ length: 6 }, (_, index) =>
      JSON.stringify({ custom_id: `line-${index}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'echo', messages: [{ role: 'user', content: `line ${index}` }] } }),
    );
    const batches = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const input = await client.files.create({ file: await toFile(Buffer.from(lines.join('\n')), 'input.jsonl'), purpose: 'batch' });
        // A connection of its own per batch, so that the creations spread over the workers.
        return client.batches.create({ input_file_id: input.id, endpoint: '/v1/chat/completions', completion_window: '24h' }, { headers: { connection: 'close' } });
      }),
    );
    // The create requests went to both workers (one connection each, handed out in turn).
    const creators = await waitFor('batch creations logged by both workers', () => {
      const workers = new Set(logLines(serve).filter((line) => line.msg === 'request completed' && line.url === '/v1/batches').map((line) => line.worker));
      return workers.size === 2 ? workers : undefined;
    });
    assert.deepEqual(creators, new Set([0, 1]));
    for (const batch of batches) {
      const done = await waitFor(`batch ${batch.id} to complete`, async () => {
        const current = await client.batches.retrieve(batch.id);
        return current.status === 'completed' ? current : undefined;
      });
      assert.deepEqual((await done).request_counts, { total: 6, completed: 6, failed: 0 });
    }
    // Each line ran once (24 upstream calls for 24 lines), all in worker 0.
    assert.equal(upstream.received.filter((request) => /^line \d$/.test(request.messages.at(-1)!.content)).length, 24);
    const lineRunners = new Set(logLines(serve).filter((line) => line.msg === 'request completed' && line.url === '/v1/chat/completions' && line.keyId === 'key_admin').map((line) => line.worker));
    assert.deepEqual(lineRunners, new Set([0]));
  });

  test('no worker runs a llama runtime thread: llama.cpp is not loaded in their processes, and /readyz reports no backend', async () => {
    const pids = [...new Set(logLines(serve).filter((line) => line.msg === 'HTTP worker listening').map((line) => line.pid!))];
    assert.equal(pids.length, 2);
    // Ready at once (nothing to wait for), with no backend: a runtime thread would report 'cpu' once it loaded llama.cpp.
    for (let index = 0; index < 4; index++) {
      const response = await fetch(`${serve.url}/readyz`, { headers: { connection: 'close' } });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ready', backend: null, models_available: 0, models_loaded: [] });
    }
    // The runtime thread loads llama.cpp's addon at start-up, well before this test: it is mapped in no worker.
    for (const pid of pids) {
      const mapped = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
      assert.ok(mapped.includes('better_sqlite3.node'), 'the maps list native addons'); // what is loaded shows up
      assert.ok(!/llama-addon\.node|libllama/.test(mapped), `worker ${pid} has llama.cpp loaded`);
    }
    assert.ok(!logLines(serve).some((line) => line.msg === 'llama.cpp ready in the runtime thread'));
  });

  test('a worker that crashes is logged and replaced; the box keeps serving', async () => {
    const victim = logLines(serve).find((line) => line.msg === 'HTTP worker listening' && line.worker === 1)!;
    process.kill(victim.pid!, 'SIGKILL');
    const logged = await waitFor('the crash to be logged', () => logLines(serve).find((line) => line.msg === 'HTTP worker exited unexpectedly; starting a new one'));
    assert.equal(logged.pid, victim.pid);
    await waitFor('a new worker 1', () => logLines(serve).find((line) => line.msg === 'HTTP worker listening' && line.worker === 1 && line.pid !== victim.pid));
    const { key } = await createKey(serve.url, {});
    assert.deepEqual(new Set(await burst(serve.url, key, 8)), new Set([200]));
  });

  test('SIGTERM to the primary stops every worker and exits 0', async () => {
    const pids = [...new Set(logLines(serve).filter((line) => line.msg === 'HTTP worker listening').map((line) => line.pid!))];
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr().slice(-2000));
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `worker ${pid} still runs`);
  });
});

describe('llmsvc serve --workers 2 with redis_url: the Redis limiter, as for several nodes', () => {
  let upstream: EchoUpstream;
  let redis: RedisProcess | undefined;
  let serve: ServeProcess;
  let redisUrl: string;
  const redisPrefix = `llmsvc-workers-test-${process.pid}-${Date.now()}:`;

  before(async () => {
    upstream = await startEchoUpstream();
    // .ci/run names a Redis; without it the test starts its own.
    redisUrl = process.env.LLMSVC_TEST_REDIS_URL ?? (redis = await startRedis()).url;
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'models'));
    const configFile = path.join(dir, 'config.json');
    fs.writeFileSync(
      configFile,
      JSON.stringify({
        default_model: false,
        redis_url: redisUrl,
        redis_prefix: redisPrefix,
        auth_failure_limit: 3,
        providers: [{ id: 'echo', type: 'openai-compatible', base_url: upstream.url }],
        routes: [{ model: 'echo', targets: [{ provider: 'echo', model: 'echo' }] }],
      }),
    );
    serve = await startServe(['--config', configFile, '--data-dir', path.join(dir, 'data'), '--models-dir', path.join(dir, 'models'), '--workers', '2']);
  });

  after(async () => {
    if (serve?.child.exitCode === null) {
      serve.child.kill('SIGKILL');
      await serve.exited;
    }
    await upstream?.close();
    await redis?.stop();
  });

  test('failed logins are counted in Redis: of 8 at once from one address over both workers, exactly 3 are 401s; another node sees the count', async () => {
    const since = logLines(serve).length;
    const statuses = await failedLogins(serve.url, 8);
    assert.equal(countOf(statuses, 401), 3, `statuses: ${statuses.join(',')}`);
    assert.equal(countOf(statuses, 429), 5, `statuses: ${statuses.join(',')}`);
    await waitFor('both workers to refuse the address', () => {
      const workers = new Set([...workersThatRefused(serve, since, '/v1/models', 401), ...workersThatRefused(serve, since, '/v1/models', 429)]);
      return workers.size === 2 ? true : undefined;
    });
    // A node of its own (this test process) with the same Redis and prefix: the address is throttled there too.
    const otherNode = await RedisAuthThrottle.open({ url: redisUrl, prefix: redisPrefix, limit: 3, clock: Date.now, logger: createLogger('silent') });
    try {
      const waitMs = await otherNode.recordFailure(guesser);
      assert.ok(waitMs > 0 && waitMs <= 60_000, `wait ${waitMs} ms`);
    } finally {
      await otherNode.dispose();
    }
  });

  test('a key with rpm 10: of 30 concurrent requests over both workers, exactly 10 pass; SIGTERM exits 0', async () => {
    assert.ok(serve.stdoutLines.includes('Serving with 2 HTTP workers on one port; rate limits shared through Redis.'), serve.stdoutLines.join('\n'));
    const { id, key } = await createKey(serve.url, { rpm: 10 });
    const statuses = await burst(serve.url, key, 30);
    assert.equal(countOf(statuses, 200), 10, `statuses: ${statuses.join(',')}`);
    assert.equal(countOf(statuses, 429), 20);
    await waitFor('both workers to serve the key', () => (workersThatServed(serve, id).size === 2 ? true : undefined));
    serve.child.kill('SIGTERM');
    assert.equal(await serve.exited, 0, serve.stderr().slice(-4000));
  });
});

test('a port in use: the workers cannot listen, serve says why and exits 1', async () => {
  const holder = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => holder.once('listening', resolve));
  const port = (holder.address() as net.AddressInfo).port;
  const dir = tempDir();
  try {
    const result = await runCliAsync(['serve', '--port', String(port), '--data-dir', path.join(dir, 'data'), '--models-dir', path.join(dir, 'models'), '--workers', '2'], {
      LLMSVC_DEFAULT_MODEL: 'false',
      LLMSVC_ADMIN_KEY: testAdminKey,
    });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, new RegExp(`Port ${port} is already in use`));
    assert.match(result.stderr, /HTTP worker \d exited \(code 1\) before it listened/);
  } finally {
    holder.close();
  }
});

test('--workers 2 with local models served is a config error that says why', () => {
  const dir = tempDir();
  const result = runCli(['serve', '--port', '0', '--data-dir', path.join(dir, 'data'), '--models-dir', path.join(dir, 'models'), '--workers', '2']);
  assert.equal(result.status, 2, result.stderr);
  assert.match(result.stderr, /workers is 2, but this config serves local models \(smoke-tiny\)/);
  assert.match(result.stderr, /default_model false/);
});

test('LimiterHost: the slots and reservations of a worker that is gone are freed', () => {
  let now = 1_000_000;
  const host = new LimiterHost(() => now);
  const key = { id: 'k', rpm: null, tpm: 100, maxConcurrent: 1, dailyTokens: null, monthlyTokens: null };
  const admitted = host.admit(1, key, 60, undefined);
  assert.equal(admitted.refusal, undefined);
  assert.throws(() => host.admit(2, key, undefined, undefined), { code: 'LLMSVC_ERR_CONCURRENCY_LIMIT' });
  assert.deepEqual(host.workerGone(1), { slots: 1, reservations: 1 });
  // The slot is free again; the reservation stays counted in the TPM window (60 of 100).
  const next = host.admit(2, key, 50, undefined);
  assert.equal(next.refusal?.code, 'LLMSVC_ERR_RATE_LIMIT_TOKENS');
  now += 61_000;
  host.release(2, next.slot);
  assert.equal(host.admit(2, key, 50, undefined).refusal, undefined);
});

test('workers: a number or auto, from the config file, LLMSVC_WORKERS or --workers; auto is one per core without local models', () => {
  const dir = tempDir();
  const base = { data_dir: dir, models_dir: path.join(dir, 'models') };
  assert.equal(loadConfig({ env: {}, flags: base }).workers, 1);
  assert.equal(loadConfig({ env: { LLMSVC_WORKERS: '3' }, flags: base }).workers, 3);
  assert.throws(() => loadConfig({ env: { LLMSVC_WORKERS: '0' }, flags: base }), ConfigError);
  assert.throws(() => loadConfig({ env: {}, flags: { ...base, workers: 'many' } }), /setting "workers"/);
  const gateway = loadConfig({ env: {}, flags: { ...base, workers: 'auto', default_model: false } });
  assert.equal(resolveWorkers(gateway), os.availableParallelism());
  // The built-in model is served while the models dir has no GGUF: one process.
  assert.equal(resolveWorkers(loadConfig({ env: {}, flags: { ...base, workers: 'auto' } })), 1);
});

test('LiveStats.merge: the windows of two workers add up to what one process counting both would show', () => {
  let now = 1_700_000_000_000;
  const clock = () => now;
  const [a, b, both] = [new LiveStats(clock), new LiveStats(clock), new LiveStats(clock)];
  const requests = [
    { status: 200, model: 'm', promptTokens: 10, completionTokens: 5, ttftMs: 40, cacheStatus: 'miss' as const },
    { status: 429 },
    { status: 200, model: 'm', promptTokens: 7, completionTokens: 3, ttftMs: 900, cacheStatus: 'hit' as const },
    { status: 502, model: 'n', promptTokens: 1, ttftMs: 5 },
  ];
  requests.forEach((request, index) => {
    now += 1500;
    (index % 2 === 0 ? a : b).record(request);
    both.record(request);
  });
  a.requestStarted();
  b.requestStarted();
  both.requestStarted();
  both.requestStarted();
  const merged = LiveStats.merge([a.export(), b.export()], clock);
  assert.deepEqual(merged.totals(), both.totals());
  assert.deepEqual(merged.model('m'), both.model('m'));
  assert.deepEqual(merged.model('n'), both.model('n'));
  assert.equal(merged.totals().active_requests, 2);
});
