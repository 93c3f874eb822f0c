import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { loadConfig } from '../core/config/index.js';
import { startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// Tracing with real parts: an OTLP/HTTP receiver in the test, an upstream that is a second llmsvc
// with the tiny model (tracing to the same receiver, so its spans join the caller's trace only if
// it got the traceparent), and a gateway llmsvc routing to it.

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
}
interface ExportedSpan extends OtlpSpan {
  service: string;
  attrs: Record<string, string | number | boolean | undefined>;
}

/** A collector stand-in: every POST to /v1/traces, as text and as spans. */
let receiver: Server;
let receiverUrl: string;
const payloads: string[] = [];

before(async () => {
  receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/v1/traces') payloads.push(body);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

function valueOf(value: OtlpValue): string | number | boolean | undefined {
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
}

function exportedSpans(): ExportedSpan[] {
  const spans: ExportedSpan[] = [];
  for (const payload of payloads) {
    const parsed = JSON.parse(payload) as { resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const resourceSpans of parsed.resourceSpans) {
      const service = String(valueOf(resourceSpans.resource.attributes.find((attribute) => attribute.key === 'service.name')!.value));
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) {
          spans.push({ ...span, service, attrs: Object.fromEntries((span.attributes ?? []).map((attribute) => [attribute.key, valueOf(attribute.value)])) });
        }
      }
    }
  }
  return spans;
}

const loaded = (pattern: string) => Object.keys(createRequire(import.meta.url).cache).some((file) => file.includes(pattern));
const sdkTraceLoaded = () => loaded('@opentelemetry/sdk-trace');

async function chat(server: TestServer, model: string, content: string, headers: Record<string, string> = {}): Promise<string> {
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content }], max_tokens: 8, temperature: 0, stream: true }, { headers });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

test('tracing config: off by default; the endpoint from the config, else from OTEL_EXPORTER_OTLP_ENDPOINT; LLMSVC_TRACING as JSON', () => {
  assert.deepEqual(loadConfig({ env: {} }).tracing, { enabled: false, service_name: 'llmsvc', sample_ratio: 1 });
  const fromOtelEnv = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', LLMSVC_TRACING: '{"enabled": true, "sample_ratio": 0.25}' } }).tracing;
  assert.deepEqual(fromOtelEnv, { enabled: true, service_name: 'llmsvc', sample_ratio: 0.25, otlp_endpoint: 'http://collector:4318' });
  const configured = loadConfig({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, flags: { tracing: { enabled: true, otlp_endpoint: 'http://other:4318' } } }).tracing;
  assert.equal(configured.otlp_endpoint, 'http://other:4318');
  assert.throws(() => loadConfig({ env: {}, flags: { tracing: { enabled: true, sample_ratio: 2 } } }), /tracing\.sample_ratio/);
  assert.throws(() => loadConfig({ env: {}, flags: { tracing: { enabeld: true } } }), /tracing/);
});

// First of the servers in this file: nothing else has loaded the SDK yet.
test('tracing off (the default): nothing is exported and the OpenTelemetry SDK is never loaded, even with OTEL_EXPORTER_OTLP_ENDPOINT set', async () => {
  const server = await startTestServer({}, { OTEL_EXPORTER_OTLP_ENDPOINT: receiverUrl });
  try {
    await chat(server, tinyModelId, 'hello there', { traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01` });
  } finally {
    await server.stop();
  }
  assert.equal(payloads.length, 0);
  assert.equal(sdkTraceLoaded(), false);
  // (@opentelemetry/api itself may be loaded by other dependencies; the SDK and exporter are tracing's own.)
  assert.equal(loaded('@opentelemetry/exporter-trace-otlp-http'), false);
  assert.doesNotMatch(server.logs(), /trace_id/);
});

test('a routed request with a caller traceparent: one trace through gateway and upstream, with auth, cache, upstream attempt, queue and generation spans, and no text', async () => {
  const tracing = (service_name: string) => ({ enabled: true, otlp_endpoint: receiverUrl, service_name });
  const upstream = await startTestServer({ tracing: tracing('llmsvc-upstream') });
  const gateway = await startTestServer(
    {
      cache: true,
      tracing: tracing('llmsvc-gateway'),
      providers: [{ id: 'nodeb', type: 'openai-compatible', base_url: `${upstream.url}/v1`, api_key_env: 'NODEB_KEY' }],
      routes: [{ model: 'team', targets: [{ provider: 'nodeb', model: tinyModelId }] }],
    },
    { NODEB_KEY: testAdminKey },
  );
  assert.equal(sdkTraceLoaded(), true); // the check of the first test can see the SDK load
  const callerTraceId = randomBytes(16).toString('hex');
  const callerSpanId = randomBytes(8).toString('hex');
  const prompt = 'my confidential prompt zebra-quartz-7781';
  let routedText: string;
  let localText: string;
  try {
    routedText = await chat(gateway, 'team', prompt, { traceparent: `00-${callerTraceId}-${callerSpanId}-01` });
    localText = await chat(gateway, tinyModelId, `${prompt} again`);
  } finally {
    await gateway.stop(); // stopping flushes the spans
    await upstream.stop();
  }

  const spans = exportedSpans();
  const trace = spans.filter((span) => span.traceId === callerTraceId);
  const one = (service: string, name: string) => {
    const found = trace.filter((span) => span.service === service && span.name === name);
    assert.equal(found.length, 1, `${service} ${name} in ${trace.map((span) => `${span.service}:${span.name}`).join(', ')}`);
    return found[0]!;
  };
  const server = one('llmsvc-gateway', 'POST /v1/chat/completions');
  assert.equal(server.parentSpanId, callerSpanId, "the gateway's server span is a child of the caller's span");
  assert.equal(server.kind, 2); // SERVER
  assert.equal(server.attrs['http.response.status_code'], 200);
  assert.equal(one('llmsvc-gateway', 'llmsvc.auth').parentSpanId, server.spanId);
  const cache = one('llmsvc-gateway', 'llmsvc.cache.lookup');
  assert.equal(cache.parentSpanId, server.spanId);
  assert.equal(cache.attrs['llmsvc.cache.hit'], false);
  const attempt = one('llmsvc-gateway', 'llmsvc.upstream.attempt');
  assert.equal(attempt.parentSpanId, server.spanId);
  assert.equal(attempt.kind, 3); // CLIENT
  assert.equal(attempt.attrs['llmsvc.upstream'], 'nodeb');
  assert.equal(attempt.attrs['gen_ai.request.model'], tinyModelId);
  assert.equal(typeof attempt.attrs['llmsvc.ttft_ms'], 'number');
  assert.ok((attempt.attrs['gen_ai.usage.input_tokens'] as number) > 0);
  assert.ok((attempt.attrs['gen_ai.usage.output_tokens'] as number) > 0);
  assert.equal(typeof server.attrs['llmsvc.ttft_ms'], 'number');
  assert.equal(server.attrs['gen_ai.request.model'], 'team');

  // The upstream got the attempt's traceparent: its server span is the attempt's child.
  const upstreamServer = one('llmsvc-upstream', 'POST /v1/chat/completions');
  assert.equal(upstreamServer.parentSpanId, attempt.spanId);
  assert.equal(one('llmsvc-upstream', 'llmsvc.auth').parentSpanId, upstreamServer.spanId);
  const generation = one('llmsvc-upstream', 'llmsvc.generation');
  assert.equal(generation.parentSpanId, upstreamServer.spanId);
  assert.equal(typeof generation.attrs['llmsvc.ttft_ms'], 'number');
  assert.ok((generation.attrs['gen_ai.usage.input_tokens'] as number) > 0);
  assert.equal(generation.attrs['gen_ai.usage.output_tokens'], attempt.attrs['gen_ai.usage.output_tokens']);
  const queue = one('llmsvc-upstream', 'llmsvc.queue');
  assert.equal(queue.parentSpanId, generation.spanId);
  assert.equal(typeof queue.attrs['llmsvc.queue.wait_ms'], 'number');

  // A local generation on the gateway: a trace of its own, with its generation and queue spans.
  const local = spans.filter((span) => span.service === 'llmsvc-gateway' && span.traceId !== callerTraceId);
  const localGeneration = local.find((span) => span.name === 'llmsvc.generation');
  assert.ok(localGeneration, local.map((span) => span.name).join(', '));
  assert.equal(localGeneration.attrs['gen_ai.request.model'], tinyModelId);
  assert.ok(local.some((span) => span.name === 'llmsvc.queue' && span.parentSpanId === localGeneration.spanId));
  assert.ok(local.some((span) => span.name === 'POST /v1/chat/completions' && span.spanId === localGeneration.parentSpanId));

  // Never prompt or completion text in what was exported.
  const exported = payloads.join('\n');
  assert.ok(!exported.includes('zebra-quartz'), 'the prompt was exported');
  for (const text of [routedText, localText]) if (text.trim().length >= 6) assert.ok(!exported.includes(text), 'a completion was exported');

  // The trace id is in the request's log lines, on both nodes.
  assert.match(gateway.logs(), new RegExp(`"trace_id":"${callerTraceId}"[^\\n]*"request completed"`));
  assert.match(upstream.logs(), new RegExp(`"trace_id":"${callerTraceId}"`));
});

test('every upstream attempt is a span, retries included, and each sends its own traceparent upstream', async () => {
  // An OpenAI-shaped upstream that answers 503 once, then streams; it records the traceparents it got.
  const seen: string[] = [];
  const fake = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      seen.push(String(request.headers.traceparent));
      if (seen.length === 1) {
        response.writeHead(503, { 'content-type': 'application/json' });
        return void response.end('{"error":{"message":"busy"}}');
      }
      const frame = (payload: object) => `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: 'm', ...payload })}\n\n`;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        frame({ choices: [{ index: 0, delta: { content: 'fine' }, finish_reason: 'stop' }] }) +
          frame({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }) +
          'data: [DONE]\n\n',
      );
    });
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const gateway = await startTestServer({
    tracing: { enabled: true, otlp_endpoint: receiverUrl, service_name: 'llmsvc-retry' },
    providers: [{ id: 'flaky', type: 'openai-compatible', base_url: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/v1`, resilience: { retry_base_ms: 10, retry_max_ms: 20 } }],
    routes: [{ model: 'flaky-route', targets: [{ provider: 'flaky', model: 'm' }] }],
  });
  const traceId = randomBytes(16).toString('hex');
  try {
    assert.equal(await chat(gateway, 'flaky-route', 'hello', { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` }), 'fine');
    assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
  } finally {
    await gateway.stop();
    fake.closeAllConnections();
    await new Promise<void>((resolve) => fake.close(() => resolve()));
  }
  assert.ok(!exportedSpans().some((span) => span.name === 'GET /healthz'), 'health checks are not traced');
  const attempts = exportedSpans().filter((span) => span.traceId === traceId && span.name === 'llmsvc.upstream.attempt');
  assert.deepEqual(attempts.map((span) => span.attrs['llmsvc.retry']).sort(), [0, 1]);
  const failed = attempts.find((span) => span.attrs['llmsvc.retry'] === 0)!;
  assert.ok(failed.attrs['error.type'], 'the failed attempt says why');
  // Each attempt named itself to the upstream: same trace, the attempt's own span id.
  assert.deepEqual(seen.sort(), attempts.map((span) => `00-${traceId}-${span.spanId}-01`).sort());
});
