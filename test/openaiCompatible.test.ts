import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Secret } from '../core/config/secret.js';
import { createOpenAiCompatibleProvider } from '../core/providers/openai-compatible/index.js';
import type { ChatRequest, Generation, GenerationEvent, Provider } from '../core/providers/types.js';
import { UpstreamError } from '../core/providers/upstream/errors.js';
import { SseDataDecoder } from '../core/providers/upstream/sse.js';
import { startGuardedAttempt, UpstreamTimeoutError } from '../core/routing/resilience/index.js';

// The openai-compatible provider's own HTTP client (undici dispatch, SSE read from Buffers) against
// a real loopback HTTP upstream whose answer each test scripts.

type Handler = (request: IncomingMessage, response: ServerResponse, body: string) => void;

interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

let server: Server;
let baseUrl: string;
let handler: Handler;
const received: Received[] = [];
/** Resolves when the upstream sees the connection of the current request close. */
let requestClosed: Promise<void>;

let provider: Provider;
let keyless: Provider;

const apiKey = 'sk-upstream-test-0123456789';
const options = (url: string) => ({ id: 'compat', baseUrl: url, models: ['m'], requestTimeoutMs: 10_000, connectTimeoutMs: 1_000, defaultMaxTokens: 256 });

before(async () => {
  server = createServer((request, response) => {
    let markClosed!: () => void;
    requestClosed = new Promise((resolve) => (markClosed = resolve));
    request.socket.once('close', () => markClosed());
    const parts: Buffer[] = [];
    request.on('data', (part: Buffer) => parts.push(part));
    request.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      received.push({ url: request.url ?? '', headers: request.headers, body: JSON.parse(body) as Record<string, unknown> });
      handler(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  provider = createOpenAiCompatibleProvider({ ...options(baseUrl), apiKey: new Secret(apiKey) });
  keyless = createOpenAiCompatibleProvider(options(baseUrl));
});
after(async () => {
  server.closeAllConnections();
  await Promise.all([provider.dispose(), keyless.dispose()]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  received.length = 0;
});

const envelope = { id: 'chatcmpl-t', object: 'chat.completion.chunk', created: 0, model: 'm' };
const frame = (payload: object) => `data: ${JSON.stringify({ ...envelope, ...payload })}\n\n`;
const contentChunk = (content: string) => frame({ choices: [{ index: 0, delta: { content }, finish_reason: null }] });
const finishChunk = (reason: string) => frame({ choices: [{ index: 0, delta: {}, finish_reason: reason }] });
const usageChunk = (prompt: number, completion: number) => frame({ choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion } });

function sse(response: ServerResponse, ...frames: string[]): void {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
  response.end([...frames, 'data: [DONE]\n\n'].join(''));
}

function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

function chatRequest(overrides: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'm', messages: [{ role: 'user', content: 'Say hello.' }], sampling: {}, maxTokens: 16, ...overrides };
}

async function collect(generation: Generation): Promise<GenerationEvent[]> {
  const events: GenerationEvent[] = [];
  for await (const event of generation.events) events.push(event);
  return events;
}

async function failureOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  assert.fail('expected a failure');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('openai-compatible provider: answers', () => {
  test('a streamed chat: text as it comes, then the end with the usage chunk’s counts; the request as translated', async () => {
    handler = (_request, response) => sse(response, frame({ choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }), contentChunk('Hel'), contentChunk('lo'), finishChunk('stop'), usageChunk(12, 2));
    const generation = await provider.chat(chatRequest({ sampling: { temperature: 0.5, topP: 0.9, seed: 3, stop: ['\n'] } }));
    assert.equal(generation.maxTokens, 16);
    assert.ok(generation.promptTokens > 0, 'an estimate until the upstream reports');
    assert.deepEqual(await collect(generation), [
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      { type: 'end', finishReason: 'stop', completionTokens: 2, promptTokens: 12 },
    ]);
    const [sent] = received;
    assert.equal(sent!.url, '/v1/chat/completions');
    assert.equal(sent!.headers.authorization, `Bearer ${apiKey}`);
    assert.ok(!inspect(provider, { depth: 10 }).includes(apiKey.slice(3)), 'the key is not in what a log of the provider would show');
    assert.equal(sent!.headers['content-type'], 'application/json');
    assert.deepEqual(sent!.body, {
      model: 'm',
      messages: [{ role: 'user', content: 'Say hello.' }],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 16,
      temperature: 0.5,
      top_p: 0.9,
      seed: 3,
      stop: ['\n'],
    });
  });

  test('without a configured key no Authorization header is sent; without usage each content chunk counts one token', async () => {
    handler = (_request, response) => sse(response, contentChunk('a'), contentChunk('b'), contentChunk('c'), finishChunk('length'));
    const events = await collect(await keyless.chat(chatRequest()));
    assert.deepEqual(events.at(-1), { type: 'end', finishReason: 'length', completionTokens: 3 });
    assert.equal(received[0]!.headers.authorization, undefined);
  });

  test('tool-call deltas are assembled per index into whole calls, after the text', async () => {
    const toolDelta = (index: number, fields: object) => frame({ choices: [{ index: 0, delta: { tool_calls: [{ index, ...fields }] }, finish_reason: null }] });
    handler = (_request, response) =>
      sse(
        response,
        toolDelta(0, { id: 'call_a', type: 'function', function: { name: 'set_light', arguments: '' } }),
        toolDelta(0, { function: { arguments: '{"on":' } }),
        toolDelta(1, { id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '' } }),
        toolDelta(0, { function: { arguments: 'true}' } }),
        finishChunk('tool_calls'),
        usageChunk(30, 9),
      );
    const tools = [
      { name: 'set_light', parameters: { type: 'object', properties: { on: { type: 'boolean' } } } },
      { name: 'get_time', description: 'The time.', parameters: { type: 'object' } },
    ];
    const events = await collect(await provider.chat(chatRequest({ tools, toolChoice: 'auto' })));
    assert.deepEqual(events, [
      { type: 'tool_call', call: { id: 'call_a', name: 'set_light', arguments: '{"on":true}' } },
      { type: 'tool_call', call: { id: 'call_b', name: 'get_time', arguments: '{}' } },
      { type: 'end', finishReason: 'tool_calls', completionTokens: 9, promptTokens: 30 },
    ]);
    assert.deepEqual(received[0]!.body.tools, [
      { type: 'function', function: { name: 'set_light', parameters: tools[0]!.parameters } },
      { type: 'function', function: { name: 'get_time', description: 'The time.', parameters: { type: 'object' } } },
    ]);
    assert.equal(received[0]!.body.tool_choice, 'auto');
  });

  test('a legacy completion streams from POST /completions', async () => {
    const completionChunk = (text: string, reason: string | null = null) => frame({ object: 'text_completion', choices: [{ index: 0, text, finish_reason: reason }] });
    handler = (_request, response) => sse(response, completionChunk('one'), completionChunk(' two', 'length'), usageChunk(3, 2));
    const events = await collect(await provider.complete({ model: 'm', prompt: 'Count:', sampling: { temperature: 0 }, maxTokens: 2 }));
    assert.deepEqual(events, [
      { type: 'text', text: 'one' },
      { type: 'text', text: ' two' },
      { type: 'end', finishReason: 'length', completionTokens: 2, promptTokens: 3 },
    ]);
    assert.equal(received[0]!.url, '/v1/completions');
    assert.deepEqual(received[0]!.body, { model: 'm', prompt: 'Count:', stream: true, stream_options: { include_usage: true }, max_tokens: 2, temperature: 0 });
  });

  test('embeddings: POST /embeddings, vectors in input order, the upstream’s prompt tokens', async () => {
    handler = (_request, response) =>
      json(response, 200, { object: 'list', data: [{ object: 'embedding', index: 1, embedding: [0, 1] }, { object: 'embedding', index: 0, embedding: [1, 0] }], model: 'm', usage: { prompt_tokens: 4, total_tokens: 4 } });
    const result = await provider.embed({ model: 'e', inputs: ['alpha', 'beta'] });
    assert.deepEqual(result, { vectors: [[1, 0], [0, 1]], promptTokens: 4 });
    assert.equal(received[0]!.url, '/v1/embeddings');
    assert.deepEqual(received[0]!.body, { model: 'e', input: ['alpha', 'beta'], encoding_format: 'float' });
  });

  test('a request marked stream: false gets one JSON answer from the upstream', async () => {
    handler = (_request, response) =>
      json(response, 200, {
        id: 'chatcmpl-t',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Hi.', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }] }, finish_reason: 'tool_calls' }],
        usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 },
      });
    // The neutral request has no stream flag yet; the provider honours one when the fronts set it.
    const events = await collect(await provider.chat({ ...chatRequest(), stream: false } as ChatRequest));
    assert.deepEqual(events, [
      { type: 'text', text: 'Hi.' },
      { type: 'tool_call', call: { id: 'c1', name: 'f', arguments: '{"x":1}' } },
      { type: 'end', finishReason: 'tool_calls', completionTokens: 7, promptTokens: 5 },
    ]);
    assert.equal(received[0]!.body.stream, undefined);
    assert.equal(received[0]!.body.stream_options, undefined);
  });
});

describe('openai-compatible provider: SSE framing', () => {
  test('a line split across TCP chunks — mid-JSON, inside a multi-byte character, between CR and LF — is parsed whole', async () => {
    const text = 'héllo wörld 👋';
    const body = Buffer.from(`${contentChunk(text).replace(/\n/g, '\r\n')}${finishChunk('stop')}${usageChunk(1, 1)}data: [DONE]\n\n`);
    const emoji = body.indexOf(Buffer.from('👋'));
    const cr = body.indexOf('\r');
    const cuts = [9, body.indexOf(Buffer.from('é')) + 1, emoji + 2, cr + 1, body.length - 3];
    handler = (request, response) => {
      request.socket.setNoDelay(true);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.flushHeaders();
      void (async () => {
        let from = 0;
        for (const cut of [...cuts, body.length]) {
          response.write(body.subarray(from, cut));
          from = cut;
          await sleep(15);
        }
        response.end();
      })();
    };
    const events = await collect(await provider.chat(chatRequest()));
    assert.deepEqual(events, [
      { type: 'text', text },
      { type: 'end', finishReason: 'stop', completionTokens: 1, promptTokens: 1 },
    ]);
  });

  test('the decoder gives the same events fed one byte at a time; multi-line data joins with a newline; comments and other fields are skipped', () => {
    const stream = Buffer.from(': keep-alive\n\nevent: message\nid: 1\ndata: {"a":\ndata: 1}\n\ndata:x\r\n\r\ndatax: no\ndata\n\ndata: tail');
    const whole: string[] = [];
    const decoder = new SseDataDecoder((data) => whole.push(data));
    decoder.push(stream);
    decoder.end();
    assert.deepEqual(whole, ['{"a":\n1}', 'x', '', 'tail']);
    const bytewise: string[] = [];
    const slow = new SseDataDecoder((data) => bytewise.push(data));
    for (let index = 0; index < stream.length; index++) slow.push(stream.subarray(index, index + 1));
    slow.end();
    assert.deepEqual(bytewise, whole);
  });

  test('an error event inside a 200 stream fails the generation as an unavailable upstream', async () => {
    handler = (_request, response) => sse(response, contentChunk('x'), `data: ${JSON.stringify({ error: { message: 'model overloaded' } })}\n\n`);
    const error = await failureOf(async () => collect(await provider.chat(chatRequest())));
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.kind, 'connection');
    assert.match(error.message, /model overloaded/);
  });
});

describe('openai-compatible provider: failures', () => {
  test('HTTP 400: rejected, not retryable, with the upstream’s own message', async () => {
    handler = (_request, response) => json(response, 400, { error: { message: 'The model `nope` does not exist.', type: 'invalid_request_error' } });
    const error = await failureOf(async () => collect(await provider.chat(chatRequest())));
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.kind, 'http');
    assert.equal(error.upstreamStatus, 400);
    assert.equal(error.retryable, false);
    assert.equal(error.code, 'LLMSVC_ERR_UPSTREAM_REJECTED');
    assert.match(error.message, /HTTP 400\): The model `nope` does not exist\.$/);
  });

  test('HTTP 429 with Retry-After (seconds) or retry-after-ms: rate limited, retryable after that long', async () => {
    handler = (_request, response) => json(response, 429, { error: { message: 'slow down' } }, { 'retry-after': '2' });
    const error = await failureOf(async () => collect(await provider.chat(chatRequest())));
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.kind, 'http');
    assert.equal(error.upstreamStatus, 429);
    assert.equal(error.retryable, true);
    assert.equal(error.retryAfterMs, 2_000);
    assert.equal(error.code, 'LLMSVC_ERR_UPSTREAM_RATE_LIMITED');
    assert.match(error.message, /slow down/);

    handler = (_request, response) => json(response, 429, { error: { message: 'slow down' } }, { 'retry-after-ms': '250', 'retry-after': '9' });
    const precise = await failureOf(async () => collect(await provider.chat(chatRequest())));
    assert.ok(precise instanceof UpstreamError);
    assert.equal(precise.retryAfterMs, 250);
  });

  test('HTTP 500 (with a body that is not JSON): unavailable, retryable; embeddings map errors the same way', async () => {
    handler = (_request, response) => json(response, 500, 'upstream exploded');
    const error = await failureOf(async () => collect(await provider.chat(chatRequest())));
    assert.ok(error instanceof UpstreamError, String(error));
    assert.equal(error.kind, 'http');
    assert.equal(error.upstreamStatus, 500);
    assert.equal(error.retryable, true);
    assert.equal(error.code, 'LLMSVC_ERR_UPSTREAM_UNAVAILABLE');
    assert.match(error.message, /HTTP 500: upstream exploded/);

    handler = (_request, response) => json(response, 503, { error: { message: 'warming up' } });
    const embedError = await failureOf(() => provider.embed({ model: 'e', inputs: ['a'] }));
    assert.ok(embedError instanceof UpstreamError, String(embedError));
    assert.equal(embedError.upstreamStatus, 503);
    assert.equal(embedError.retryable, true);
  });

  test('connection refused: kind connection, retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const dead = createOpenAiCompatibleProvider(options(`http://127.0.0.1:${port}/v1`));
    try {
      const error = await failureOf(async () => collect(await dead.chat(chatRequest())));
      assert.ok(error instanceof UpstreamError, String(error));
      assert.equal(error.kind, 'connection');
      assert.equal(error.retryable, true);
      assert.equal(error.code, 'LLMSVC_ERR_UPSTREAM_UNAVAILABLE');
      const embedError = await failureOf(() => dead.embed({ model: 'e', inputs: ['a'] }));
      assert.ok(embedError instanceof UpstreamError && embedError.kind === 'connection', String(embedError));
    } finally {
      await dead.dispose();
    }
  });

  test('an abort mid-stream rejects with the signal’s own reason and closes the upstream connection', async () => {
    handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(contentChunk('first'));
      // …and nothing more: the upstream would stream on for a long time.
    };
    const controller = new AbortController();
    const generation = await provider.chat(chatRequest({ signal: controller.signal }));
    const iterator = generation.events[Symbol.asyncIterator]();
    assert.deepEqual((await iterator.next()).value, { type: 'text', text: 'first' });
    const reason = new Error('the client went away');
    const started = performance.now();
    const pending = iterator.next();
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    await requestClosed;
    assert.ok(performance.now() - started < 1_000, 'the upstream saw the socket close promptly');
  });

  test('under the resilience layer, a first-byte timeout aborts the request: the attempt fails with UpstreamTimeoutError and the upstream sees the close', async () => {
    handler = () => undefined; // never answers
    const started = performance.now();
    const error = await failureOf(() =>
      startGuardedAttempt((context) => provider.chat(chatRequest({ signal: context.signal })), { upstream: 'compat', retry: 0, timeouts: { firstByteMs: 100 } }),
    );
    assert.ok(error instanceof UpstreamTimeoutError, String(error));
    await requestClosed;
    assert.ok(performance.now() - started < 1_500);
    // The pool is still usable afterwards.
    handler = (_request, response) => sse(response, contentChunk('ok'), finishChunk('stop'));
    const events = await collect(await provider.chat(chatRequest()));
    assert.deepEqual(events[0], { type: 'text', text: 'ok' });
  });

  test('leaving the loop early (the consumer stopped reading) stops the upstream request', async () => {
    handler = (_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write(contentChunk('one'));
      response.write(contentChunk('two'));
    };
    const generation = await provider.chat(chatRequest());
    for await (const event of generation.events) {
      assert.equal(event.type, 'text');
      break;
    }
    await requestClosed;
  });
});
