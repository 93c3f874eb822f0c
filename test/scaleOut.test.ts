// Three `llmsvc serve` processes on loopback sharing one PostgreSQL (keys, usage, files' metadata,
// vector stores, batches, jobs), one Redis (limits) and one S3 server (file contents): the
// scale-out set-up of the README, with real servers and the built CLI.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { runCliAsync, startServe, type ServeProcess } from './support/cli.js';
import { startEchoUpstream, type EchoUpstream } from './support/echoUpstream.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';
import { startRedis, type RedisProcess } from './support/redis.js';
import { s3Credentials, startS3, type S3Server } from './support/s3rver.js';
import { authedFetch, tempDir, testAdminKey, testModelsDir, tinyModelId } from './support/server.js';
import { freePort } from './support/redis.js';
import { waitFor } from './support/wait.js';

let postgres: PostgresServer;
let redis: RedisProcess | undefined;
let redisUrl: string;
let s3: S3Server;
let upstream: EchoUpstream;
/** An OTLP/HTTP receiver: the JSON bodies the nodes exported their spans in. */
let receiver: Server;
const exported: string[] = [];
let nodeEnv: NodeJS.ProcessEnv;
const nodes: ServeProcess[] = [];

/** Starts one more node on the shared services, with a data dir of its own. */
async function startNode(): Promise<ServeProcess> {
  const node = await startServe([], { ...nodeEnv, LLMSVC_DATA_DIR: tempDir('llmsvc-node-') });
  nodes.push(node);
  return node;
}

function client(node: ServeProcess, apiKey = testAdminKey): OpenAI {
  return new OpenAI({ baseURL: `${node.url}/v1`, apiKey, maxRetries: 0 });
}

async function createKey(node: ServeProcess, settings: object): Promise<{ id: string; key: string }> {
  const response = await authedFetch(`${node.url}/admin/v1/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'scale-out', ...settings }) });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as { id: string; key: string };
}

before(async () => {
  postgres = await testPostgres();
  const databaseUrl = await createDatabase(postgres.url, `llmsvc_scale_out_${process.pid}`);
  if (process.env.LLMSVC_TEST_REDIS_URL) redisUrl = process.env.LLMSVC_TEST_REDIS_URL;
  else {
    redis = await startRedis();
    redisUrl = redis.url;
  }
  s3 = await startS3();
  // Batch lines take a while upstream, so that a node can be killed while it holds some.
  upstream = await startEchoUpstream({ delayMs: 150 });
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      if (request.url === '/v1/traces') exported.push(body);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  // Nothing listens here: the pool's dead member.
  const deadMember = `http://127.0.0.1:${await freePort()}/v1`;
  const configFile = path.join(tempDir(), 'llmsvc.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      providers: [
        { id: 'echo', type: 'openai-compatible', base_url: upstream.url, resilience: { max_retries: 0 } },
        {
          id: 'pooled',
          type: 'openai-compatible',
          resilience: { max_retries: 1 },
          pool: { members: [{ base_url: deadMember }, { base_url: upstream.url }], sticky_prefix_chars: 0, health_check: { interval_ms: 200, timeout_ms: 500 } },
        },
      ],
      routes: [
        { model: 'echo-model', targets: [{ provider: 'echo', model: 'echo' }] },
        { model: 'pooled-model', targets: [{ provider: 'pooled', model: 'echo' }] },
      ],
      tracing: { enabled: true },
      storage: { type: 's3', bucket: s3.bucket, prefix: `scale-out-${process.pid}/`, endpoint: s3.endpoint, region: 'us-east-1', force_path_style: true },
    }),
  );
  nodeEnv = {
    ...s3Credentials,
    LLMSVC_CONFIG: configFile,
    LLMSVC_DATABASE_URL: databaseUrl,
    LLMSVC_REDIS_URL: redisUrl,
    LLMSVC_REDIS_PREFIX: `llmsvc-scale-out-${process.pid}:`,
    LLMSVC_MODELS_DIR: testModelsDir,
    LLMSVC_THREADS: '1',
    LLMSVC_CACHE: 'false',
    LLMSVC_LOG_LEVEL: 'warn',
    // Short leases, so that the test need not wait 30 s for a killed node's batch lines.
    LLMSVC_BATCH_LINE_LEASE_MS: '2000',
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`,
  };
  await Promise.all([startNode(), startNode(), startNode()]);
});

after(async () => {
  for (const node of nodes) node.child.kill('SIGTERM');
  await Promise.all(nodes.map((node) => node.exited));
  await upstream?.close();
  await s3?.close();
  await redis?.stop();
  await postgres?.stop();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

interface ExportedSpan {
  traceId: string;
  name: string;
  service: string;
}

function exportedSpans(): ExportedSpan[] {
  type Resource = { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: { traceId: string; name: string }[] }[] };
  return exported.flatMap((payload) =>
    (JSON.parse(payload) as { resourceSpans: Resource[] }).resourceSpans.flatMap((resource) => {
      const service = resource.resource.attributes.find((attribute) => attribute.key === 'service.name')?.value.stringValue ?? '';
      return resource.scopeSpans.flatMap((scope) => scope.spans.map((span) => ({ traceId: span.traceId, name: span.name, service })));
    }),
  );
}

describe('three llmsvc nodes on one PostgreSQL, Redis and S3', () => {
  test('a key created on node 1 works on node 3; revoked on node 2, it fails on every node within a second', async () => {
    const [node1, node2, node3] = nodes as [ServeProcess, ServeProcess, ServeProcess];
    const { id, key } = await createKey(node1, {});
    const models = await client(node3, key).models.list();
    assert.ok(models.data.some((model) => model.id === 'echo-model'));
    for (const node of nodes) assert.equal((await fetch(`${node.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status, 200);

    const revoked = await authedFetch(`${node2.url}/admin/v1/keys/${id}`, { method: 'DELETE' });
    assert.equal(revoked.status, 200);
    const revokedAt = Date.now();
    const refusedEverywhere = await waitFor(async () => {
      const statuses = await Promise.all(nodes.map(async (node) => (await fetch(`${node.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status));
      return statuses.every((status) => status === 401);
    }, 1_000);
    assert.ok(refusedEverywhere, `every node refused the revoked key within a second (${Date.now() - revokedAt} ms)`);
  });

  test('1,000 concurrent requests over the three nodes on a key with RPM 100: exactly 100 pass', async () => {
    const { key } = await createKey(nodes[0]!, { rpm: 100 });
    const statuses = await Promise.all(
      Array.from({ length: 1000 }, async (_, index) => {
        const response = await fetch(`${nodes[index % 3]!.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
        await response.body?.cancel();
        return response.status;
      }),
    );
    assert.equal(statuses.filter((status) => status === 200).length, 100);
    assert.equal(statuses.filter((status) => status === 429).length, 900);
  });

  test('a pool with a dead member keeps answering, and a routed request is traced with the traceparent passed upstream', async () => {
    const traceId = randomBytes(16).toString('hex');
    const answers = [];
    for (let index = 0; index < 6; index++) {
      const completion = await client(nodes[index % 3]!).chat.completions.create(
        { model: 'pooled-model', messages: [{ role: 'user', content: `pooled ${index}` }] },
        { headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } },
      );
      answers.push(completion.choices[0]!.message.content);
    }
    assert.deepEqual(answers, [0, 1, 2, 3, 4, 5].map((index) => `pooled ${index}`));
    const sent = upstream.traceparents.filter((header) => header?.includes(traceId));
    assert.equal(sent.length, 6, 'the upstream saw the caller\'s trace id on every request');
    const traced = await waitFor(() => {
      const names = exportedSpans().filter((span) => span.traceId === traceId).map((span) => span.name);
      return names.includes('llmsvc.auth') && names.includes('llmsvc.upstream.attempt');
    }, 15_000);
    assert.ok(traced, `the nodes exported the request's spans (${[...new Set(exportedSpans().filter((span) => span.traceId === traceId).map((span) => span.name))].join(', ')})`);
  });

  test('a file uploaded through node 2 is read through node 3', async () => {
    const content = `shared across nodes ${process.pid}\n`.repeat(100);
    const uploaded = await client(nodes[1]!).files.create({ file: await toFile(Buffer.from(content), 'shared.txt'), purpose: 'assistants' });
    const read = await client(nodes[2]!).files.content(uploaded.id);
    assert.equal(await read.text(), content);
    assert.equal((await client(nodes[0]!).files.retrieve(uploaded.id)).bytes, Buffer.byteLength(content));
  });

  test('a vector store filled through node 1 is searched through nodes 2 and 3 with the same results', async () => {
    const [node1, node2, node3] = nodes as [ServeProcess, ServeProcess, ServeProcess];
    const texts = ['The lighthouse keeper logs the ships at dawn.', 'Quarterly revenue rose by twelve percent.', 'Zyxomorph is a made-up word used to test search.'];
    const files = [];
    for (const [index, text] of texts.entries()) {
      files.push(await client(node1).files.create({ file: await toFile(Buffer.from(text.repeat(20)), `doc-${index}.txt`), purpose: 'assistants' }));
    }
    const store = await client(node1).vectorStores.create({ name: 'across-nodes', file_ids: files.map((file) => file.id), embedding_model: tinyModelId } as OpenAI.VectorStores.VectorStoreCreateParams);
    const indexed = await waitFor(async () => (await client(node1).vectorStores.retrieve(store.id)).file_counts.completed === files.length, 60_000);
    assert.ok(indexed, 'every file was indexed');
    const search = async (node: ServeProcess, query: string, ranker: 'auto' | 'vector' | 'keyword') =>
      (await client(node).vectorStores.search(store.id, { query, max_num_results: 3, ranking_options: { ranker } } as OpenAI.VectorStores.VectorStoreSearchParams)).data.map((hit) => ({
        file_id: hit.file_id,
        score: hit.score,
        text: hit.content[0]?.text,
      }));
    for (const [query, ranker] of [['zyxomorph', 'auto'], ['ships at dawn', 'vector'], ['revenue', 'keyword']] as const) {
      const onNode1 = await search(node1, query, ranker);
      assert.ok(onNode1.length > 0, `node 1 found something for '${query}'`);
      assert.deepEqual(await search(node2, query, ranker), onNode1, `node 2 gave node 1's results for '${query}' (${ranker})`);
      assert.deepEqual(await search(node3, query, ranker), onNode1, `node 3 gave node 1's results for '${query}' (${ranker})`);
    }
  });

  test('a batch submitted on node 1 completes with node 1 killed mid-batch, each line once', async () => {
    const [node1, node2] = nodes as [ServeProcess, ServeProcess, ServeProcess];
    const lineCount = 60;
    const input = Array.from({ length: lineCount }, (_, index) =>
      JSON.stringify({ custom_id: `line-${index}`, method: 'POST', url: '/v1/chat/completions', body: { model: 'echo-model', messages: [{ role: 'user', content: `batch line ${index}` }] } }),
    ).join('\n');
    const file = await client(node1).files.create({ file: await toFile(Buffer.from(input), 'batch.jsonl'), purpose: 'batch' });
    const batch = await client(node1).batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
    const started = await waitFor(async () => (await client(node2).batches.retrieve(batch.id)).request_counts!.completed >= 5, 30_000);
    assert.ok(started, 'some lines completed before the kill');
    node1.child.kill('SIGKILL');
    await node1.exited;

    const finished = await waitFor(async () => (await client(node2).batches.retrieve(batch.id)).status === 'completed', 60_000);
    const done = await client(node2).batches.retrieve(batch.id);
    assert.ok(finished, `the batch completed without node 1 (status ${done.status})`);
    assert.deepEqual(done.request_counts, { total: lineCount, completed: lineCount, failed: 0 });
    const output = (await (await client(nodes[2]!).files.content(done.output_file_id!)).text()).trim().split('\n').map((line) => JSON.parse(line) as { custom_id: string; response: { body: { choices: { message: { content: string } }[] } } });
    assert.deepEqual(output.map((line) => line.custom_id).sort(), Array.from({ length: lineCount }, (_, index) => `line-${index}`).sort(), 'each line once');
    for (const line of output) assert.equal(line.response.body.choices[0]!.message.content, `batch line ${line.custom_id.slice('line-'.length)}`);
    // Each node ran only the lines it claimed: a line reached the upstream twice at most when node
    // 1 was killed while it ran it (at most 16 lines of a model at once per node).
    const sent = upstream.received.filter((request) => request.messages[0]?.content.startsWith('batch line ')).length;
    assert.ok(sent >= lineCount && sent <= lineCount + 16, `${sent} batch requests reached the upstream for ${lineCount} lines`);
  });

  test('migrate and backup know the data is in PostgreSQL, and never print its URL', async () => {
    const env = { ...nodeEnv, LLMSVC_DATA_DIR: tempDir('llmsvc-cli-') };
    const check = await runCliAsync(['migrate', '--check', '--json'], env);
    assert.equal(check.status, 0, check.stderr);
    const versions = JSON.parse(check.stdout) as { schema_version: number; llmsvc_schema_version: number };
    assert.equal(versions.schema_version, versions.llmsvc_schema_version, 'the nodes migrated the shared database');
    const backup = await runCliAsync(['backup', '--out', path.join(tempDir(), 'backup')], env);
    assert.notEqual(backup.status, 0);
    assert.match(backup.stderr, /keeps its data in PostgreSQL \(database_url\).*pg_dump/);
    for (const output of [check.stdout, check.stderr, backup.stdout, backup.stderr]) assert.ok(!output.includes(nodeEnv.LLMSVC_DATABASE_URL!), 'no database URL in the output');
  });
});
