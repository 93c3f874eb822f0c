import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { ConfigError, loadConfig } from '../core/config/index.js';
import { createOpenAiCompatibleProvider } from '../core/providers/openai-compatible/index.js';
import { conversationPrefixHash, EnginePool, fnv1a, orderMembers, rendezvousScore } from '../core/routing/pool/index.js';
import { startFakeEngine, type FakeEngine } from './support/fakeEngine.js';
import { authedFetch, startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';
import { waitFor } from './support/wait.js';

// Pools of engines (issue 18): a gateway llmsvc routes models to pools whose members are a second
// llmsvc with the tiny model and fake OpenAI-compatible engines that count what they get; the
// client is the official openai SDK.

let engine: TestServer; // a real llmsvc member
let gateway: TestServer;
let client: OpenAI;
const fakes: Record<string, FakeEngine> = {};
const resilience = { max_retries: 2, retry_base_ms: 10, connect_timeout_ms: 500, circuit_failures: 2, circuit_cooldown_ms: 300 };
const healthCheck = { path: 'models', interval_ms: 100, timeout_ms: 500 };
const members = (...names: string[]) => names.map((name) => ({ base_url: fakes[name]!.url }));

before(async () => {
  engine = await startTestServer({ context_size: 512 });
  for (const name of ['s1', 's2', 's3', 'f1', 'f2', 'b1', 'b2', 't1', 't2', 't3', 'r1', 'r2']) fakes[name] = await startFakeEngine(name);
  gateway = await startTestServer(
    {
      context_size: 512,
      providers: [
        { id: 'spread', type: 'openai-compatible', resilience, pool: { members: members('s1', 's2', 's3'), sticky_prefix_chars: 0, health_check: healthCheck } },
        {
          id: 'failover',
          type: 'openai-compatible',
          api_key_env: 'UP_KEY',
          resilience,
          pool: { members: [{ base_url: `${engine.url}/v1` }, ...members('f1', 'f2')], sticky_prefix_chars: 0, health_check: healthCheck },
        },
        { id: 'breaker', type: 'openai-compatible', resilience: { ...resilience, max_retries: 1, circuit_cooldown_ms: 60_000 }, pool: { members: members('b1', 'b2'), sticky_prefix_chars: 0, health_check: healthCheck } },
        { id: 'sticky', type: 'openai-compatible', resilience, pool: { members: members('t1', 't2', 't3'), health_check: healthCheck } },
        { id: 'retry', type: 'openai-compatible', resilience: { ...resilience, max_retries: 1 }, pool: { members: members('r1', 'r2'), sticky_prefix_chars: 0, health_check: healthCheck } },
      ],
      routes: ['spread', 'failover', 'breaker', 'sticky', 'retry'].map((id) => ({ model: `${id}-model`, targets: [{ provider: id, model: tinyModelId }] })),
    },
    { UP_KEY: testAdminKey },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(async () => {
  await gateway?.stop();
  await engine?.stop();
  await Promise.all(Object.values(fakes).map((fake) => fake.kill().catch(() => {})));
});

const labelOf = (url: string) => `${new URL(url).host}/v1`;

/** A pool member's sample of a metric on the gateway's /metrics (undefined: no sample yet). */
async function memberMetric(name: string, pool: string, url: string): Promise<number | undefined> {
  const text = await (await authedFetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(`pool="${pool}"`) && candidate.includes(`member="${labelOf(url)}"`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function circuitState(upstream: string): Promise<number | undefined> {
  const text = await (await authedFetch(`${gateway.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`llmsvc_upstream_circuit_state{upstream="${upstream}"}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const ask = (model: string, content: string, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
  client.chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 4, temperature: 0, ...extra }).withResponse();

describe('a pool of engines', () => {
  test('least outstanding: concurrent requests spread evenly, counted in flight until they end', async () => {
    const pool = ['s1', 's2', 's3'].map((name) => fakes[name]!);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    for (const fake of pool) fake.gate = gate; // every request stays in flight until all nine have arrived
    const answers = Promise.all(Array.from({ length: 9 }, (_unused, index) => ask('spread-model', `question ${index}`)));
    assert.ok(await waitFor(() => pool.reduce((sum, fake) => sum + fake.hits, 0) === 9), 'all nine reached the members');
    const inFlight = await Promise.all(pool.map((fake) => memberMetric('llmsvc_pool_member_outstanding_requests', 'spread', fake.url)));
    release();
    for (const { response } of await answers) assert.equal(response.status, 200);
    assert.deepEqual(
      pool.map((fake) => fake.hits),
      [3, 3, 3],
      'each member got a third: the one with the fewest requests in flight is chosen',
    );
    assert.deepEqual(inFlight, [3, 3, 3], 'the outstanding gauges counted the held requests');
    assert.ok(await waitFor(async () => (await Promise.all(pool.map((fake) => memberMetric('llmsvc_pool_member_outstanding_requests', 'spread', fake.url)))).every((value) => value === 0)));
    for (const fake of pool) {
      assert.equal(await memberMetric('llmsvc_pool_member_requests_total', 'spread', fake.url), 3);
      fake.gate = undefined;
    }
  });

  test('a pool with one dead member keeps answering; the health check marks it and it is skipped until it comes back', async () => {
    const dead = fakes.f2!;
    await dead.kill();
    // Right away, before a health check notices: attempts on the dead member move to another member.
    for (let index = 0; index < 6; index++) {
      const { data, response } = await ask('failover-model', `before the check ${index}`);
      assert.equal(response.status, 200);
      assert.ok(data.choices[0]!.message.content !== undefined);
    }
    assert.ok(await waitFor(async () => (await memberMetric('llmsvc_pool_member_healthy', 'failover', dead.url)) === 0), 'the health check marks it unhealthy');
    assert.match(gateway.logs(), /member 127\.0\.0\.1:\d+\/v1 is failing its health check/);
    const sentBefore = await memberMetric('llmsvc_pool_member_requests_total', 'failover', dead.url);
    const servedBy = new Set<string>();
    for (let index = 0; index < 8; index++) {
      const { data, response } = await ask('failover-model', `while dead ${index}`);
      assert.equal(response.status, 200);
      servedBy.add(data.choices[0]!.message.content === 'reply from f1' ? 'f1' : 'llmsvc');
    }
    assert.equal(await memberMetric('llmsvc_pool_member_requests_total', 'failover', dead.url), sentBefore, 'no attempt went to the unhealthy member');
    assert.deepEqual([...servedBy].sort(), ['f1', 'llmsvc'], 'both live members served, the real llmsvc among them');

    await dead.revive();
    assert.ok(await waitFor(async () => (await memberMetric('llmsvc_pool_member_healthy', 'failover', dead.url)) === 1), 'healthy again once its check passes');
    await new Promise((resolve) => setTimeout(resolve, 350)); // its circuit's cool-down, if the early attempts opened it
    const hitsBefore = dead.hits;
    for (let index = 0; index < 6; index++) assert.equal((await ask('failover-model', `after ${index}`)).response.status, 200);
    assert.ok(dead.hits > hitsBefore, 'the recovered member serves again');
  });

  test('a member answering 500s trips only its own circuit breaker; its requests are retried on the other member', async () => {
    const [failing, healthy] = [fakes.b1!, fakes.b2!];
    failing.failWith = 500;
    for (let index = 0; index < 8; index++) {
      const { data, response } = await ask('breaker-model', `q ${index}`);
      assert.equal(response.status, 200);
      assert.equal(data.choices[0]!.message.content, 'reply from b2');
    }
    assert.equal(await circuitState(`breaker@${labelOf(failing.url)}`), 2, 'the failing member’s circuit is open');
    assert.notEqual(await circuitState(`breaker@${labelOf(healthy.url)}`), 2, 'the healthy member’s is not');
    assert.equal(failing.hits, 2, 'it was tried until its circuit opened (2 failures), then left alone');
    const hitsBefore = failing.hits;
    for (let index = 0; index < 4; index++) assert.equal((await ask('breaker-model', `later ${index}`)).response.status, 200);
    assert.equal(failing.hits, hitsBefore);
  });

  test('with the other member down, a failing attempt is retried on the member still healthy', async () => {
    const [live, dead] = [fakes.r1!, fakes.r2!];
    await dead.kill();
    assert.ok(await waitFor(async () => (await memberMetric('llmsvc_pool_member_healthy', 'retry', dead.url)) === 0));
    live.failNext = 1;
    const { data, response } = await ask('retry-model', 'one 500 first');
    assert.equal(response.status, 200);
    assert.equal(data.choices[0]!.message.content, 'reply from r1');
    assert.equal(live.hits, 2, 'the 500, then the retry on the same (last usable) member');
  });

  test('sticky prefix: the turns of one conversation land on one member; different conversations spread', async () => {
    const pool = ['t1', 't2', 't3'].map((name) => fakes[name]!);
    const system = { role: 'system' as const, content: 'You are a helpful assistant.' };
    for (let conversation = 0; conversation < 12; conversation++) {
      const first = `Conversation ${conversation}: tell me about topic ${conversation * 7}.`;
      const history: OpenAI.ChatCompletionMessageParam[] = [system, { role: 'user', content: first }];
      for (let turn = 0; turn < 3; turn++) {
        const answer = await client.chat.completions.create({ model: 'sticky-model', messages: history, max_tokens: 4 });
        history.push(answer.choices[0]!.message as OpenAI.ChatCompletionMessageParam, { role: 'user', content: `and then ${turn}?` });
      }
    }
    const membersOf = (first: string) => pool.filter((fake) => fake.firstUserMessages.includes(first)).map((fake) => fake.name);
    for (let conversation = 0; conversation < 12; conversation++) {
      const first = `Conversation ${conversation}: tell me about topic ${conversation * 7}.`;
      const chosen = membersOf(first);
      assert.equal(chosen.length, 1, `conversation ${conversation} went to ${chosen.join(', ')}`);
      assert.equal(pool.find((fake) => fake.name === chosen[0])!.firstUserMessages.filter((message) => message === first).length, 3);
    }
    assert.ok(pool.filter((fake) => fake.hits > 0).length >= 2, `conversations spread: ${pool.map((fake) => `${fake.name}=${fake.hits}`).join(', ')}`);
  });

  test('streaming through the pool: the member’s chunks arrive as a stream, and its request ends', async () => {
    const stream = await client.chat.completions.create({ model: 'spread-model', messages: [{ role: 'user', content: 'stream please' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let chunks = 0;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /^reply from s[123]$/);
    assert.ok(chunks > 2, 'several chunks');
    assert.equal(usage?.completion_tokens, 3, 'the member’s usage');
    const served = fakes[text.slice('reply from '.length)]!;
    assert.ok(await waitFor(async () => (await memberMetric('llmsvc_pool_member_outstanding_requests', 'spread', served.url)) === 0));

    const viaLlmsvc = await client.chat.completions.create({ model: 'failover-model', messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, stream: true });
    let pieces = 0;
    for await (const chunk of viaLlmsvc) if (chunk.choices[0]?.delta.content !== undefined) pieces++;
    assert.ok(pieces > 0);
  });
});

describe('choosing a member (pure logic)', () => {
  const member = (seed: number, outstanding = 0, healthy = true, circuitOpen = false) => ({ seed, outstanding, healthy, circuitOpen });

  test('fewest in flight first; unhealthy and open-circuit members only as a last resort; ties rotate', () => {
    const members = [member(1, 4), member(2, 1), member(3, 0, false), member(4, 2), member(5, 0, true, true)];
    assert.deepEqual(orderMembers(members, { maxExtraOutstanding: 2, rotation: 0 }), { order: [1, 3, 0, 2, 4], usable: 3 });
    const idle = [member(1), member(2), member(3)];
    const firsts = [0, 1, 2, 3].map((rotation) => orderMembers(idle, { maxExtraOutstanding: 2, rotation }).order[0]);
    assert.deepEqual(firsts, [0, 1, 2, 0]);
  });

  test('the preferred member of a prefix comes first unless it is much busier or unhealthy', () => {
    const seeds = [11, 22, 33].map((seed) => fnv1a(`http://engine-${seed}/v1`));
    const prefixHash = fnv1a('system\u0000be brief\u0000user\u0000hello\u0000');
    const preferred = orderMembers(seeds.map((seed) => member(seed)), { prefixHash, maxExtraOutstanding: 2, rotation: 0 }).order[0]!;
    const busy = seeds.map((seed, index) => member(seed, index === preferred ? 2 : 0));
    assert.equal(orderMembers(busy, { prefixHash, maxExtraOutstanding: 2, rotation: 0 }).order[0], preferred, 'two more in flight is allowed');
    const busier = seeds.map((seed, index) => member(seed, index === preferred ? 3 : 0));
    assert.notEqual(orderMembers(busier, { prefixHash, maxExtraOutstanding: 2, rotation: 0 }).order[0], preferred, 'three more is not');
    const down = seeds.map((seed, index) => member(seed, 0, index !== preferred));
    const { order } = orderMembers(down, { prefixHash, maxExtraOutstanding: 2, rotation: 0 });
    assert.notEqual(order[0], preferred);
    assert.equal(order.at(-1), preferred);
  });

  test('rendezvous hashing: a fourth member takes about a quarter of the prefixes and moves no others', () => {
    const seeds = [1, 2, 3, 4].map((index) => fnv1a(`http://10.0.0.${index}:8000/v1`));
    const winner = (prefix: number, count: number) => seeds.slice(0, count).reduce((best, seed, index) => (rendezvousScore(prefix, seed) > rendezvousScore(prefix, seeds[best]!) ? index : best), 0);
    let moved = 0;
    let movedElsewhere = 0;
    const prefixes = 2000;
    for (let prefix = 0; prefix < prefixes; prefix++) {
      const hash = fnv1a(`conversation ${prefix}`);
      const [before, afterJoin] = [winner(hash, 3), winner(hash, 4)];
      if (before !== afterJoin) moved++;
      if (before !== afterJoin && afterJoin !== 3) movedElsewhere++;
    }
    assert.equal(movedElsewhere, 0, 'a prefix moves only to the new member');
    assert.ok(moved > prefixes * 0.18 && moved < prefixes * 0.32, `moved ${moved} of ${prefixes}`);
  });

  test('the conversation prefix ignores later turns', () => {
    const start = [
      { role: 'system' as const, content: 'be brief' },
      { role: 'user' as const, content: 'hello' },
    ];
    const base = { model: 'm', sampling: {}, maxTokens: 4 };
    const first = conversationPrefixHash({ ...base, messages: start }, 2048);
    const later = conversationPrefixHash({ ...base, messages: [...start, { role: 'assistant', content: 'hi' }, { role: 'user', content: 'more' }] }, 2048);
    const other = conversationPrefixHash({ ...base, messages: [start[0]!, { role: 'user', content: 'bye' }] }, 2048);
    assert.equal(first, later);
    assert.notEqual(first, other);
    assert.equal(conversationPrefixHash({ ...base, messages: start }, 0), undefined, '0: no sticky choice');
  });
});

describe('health checks', () => {
  test('run every interval and stop when the pool is disposed', async () => {
    const fake = await startFakeEngine('h1');
    const options = { id: 'h', baseUrl: fake.url, requestTimeoutMs: 1_000, connectTimeoutMs: 500, defaultMaxTokens: 16 };
    const pool = new EnginePool({
      id: 'h',
      members: [{ baseUrl: fake.url, provider: createOpenAiCompatibleProvider(options) }],
      stickyPrefixChars: 0,
      stickyMaxExtraOutstanding: 2,
      healthCheck: { path: 'models', interval_ms: 20, timeout_ms: 500 },
      circuitOpen: () => false,
    });
    try {
      assert.ok(await waitFor(() => fake.modelListings >= 3), 'checked repeatedly');
    } finally {
      await pool.dispose();
    }
    const checks = fake.modelListings;
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.ok(fake.modelListings <= checks + 1, 'no check after dispose (one may have been in flight)');
    await fake.kill();
  });
});

describe('pool config', () => {
  test('members resolve their own key or the pool’s; a pool with base_url, or twice the same member, is refused', () => {
    const pool = (members: object[]) => ({ id: 'gpus', type: 'openai-compatible', api_key_env: 'POOL_KEY', pool: { members } });
    const config = loadConfig({
      env: { POOL_KEY: 'pool-key', B_KEY: 'member-key' },
      flags: { providers: [pool([{ base_url: 'http://a:1/v1' }, { base_url: 'http://b:1/v1', api_key_env: 'B_KEY' }])] },
    });
    const members = config.providers[0]!.pool!.members;
    assert.deepEqual(members.map((entry) => entry.api_key?.reveal()), ['pool-key', 'member-key']);
    assert.equal(config.providers[0]!.pool!.health_check.path, 'models');
    assert.throws(() => loadConfig({ env: { POOL_KEY: 'k' }, flags: { providers: [{ ...pool([{ base_url: 'http://a:1/v1' }]), base_url: 'http://a:1/v1' }] } }), ConfigError);
    assert.throws(() => loadConfig({ env: { POOL_KEY: 'k' }, flags: { providers: [pool([{ base_url: 'http://a:1/v1' }, { base_url: 'http://a:1/v1/' }])] } }), /same base_url/);
    assert.throws(() => loadConfig({ env: { POOL_KEY: 'k' }, flags: { providers: [{ ...pool([{ base_url: 'http://a:1/v1' }]), type: 'openai' }] } }), /pool/);
  });
});
