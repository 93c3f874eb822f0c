import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AttemptContext } from '../../core/routing/resilience/index.js';
import { UpstreamHttpError, UpstreamProtocolError } from '../../core/routing/resilience/index.js';
import type { Generation, GenerationEvent } from '../../core/providers/types.js';

/** What the tiny upstream answers with: three text pieces and an end. */
export const upstreamEvents: GenerationEvent[] = [
  { type: 'text', text: 'Hel' },
  { type: 'text', text: 'lo' },
  { type: 'text', text: ' world' },
  { type: 'end', finishReason: 'stop', completionTokens: 3 },
];

export interface TinyUpstream {
  url: string;
  /** Requests it answered. */
  readonly hits: number;
  /** Streams whose client went away before their end. */
  readonly abandoned: number;
  close(): Promise<void>;
}

/** A stand-in for an LLM API: POST /generate with `{"stream": true}` answers with SSE, one event
 *  every `gapMs` and `data: [DONE]`; with `{"stream": false}` answers with the events as JSON. */
export async function startTinyUpstream(gapMs = 5): Promise<TinyUpstream> {
  let hits = 0;
  let abandoned = 0;
  const server = createServer(async (request, response) => {
    hits += 1;
    response.on('close', () => {
      if (!response.writableFinished) abandoned += 1;
    });
    const { stream } = JSON.parse(await readBody(request)) as { stream: boolean };
    if (!stream) {
      response.writeHead(200, { 'content-type': 'application/json' });
      return void response.end(JSON.stringify({ promptTokens: 4, events: upstreamEvents }));
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.flushHeaders();
    for (const event of upstreamEvents) {
      if (response.destroyed) return;
      response.write(`data: ${JSON.stringify(event)}\n\n`);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    response.end('data: [DONE]\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get hits() {
      return hits;
    },
    get abandoned() {
      return abandoned;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function readBody(message: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of message) body += chunk;
  return body;
}

/** A minimal provider attempt against the tiny upstream (or a proxy in front of it), written the
 *  way a real provider should be: the context's signal aborts the request, connection progress is
 *  reported, HTTP errors carry status and headers, and SSE is parsed lazily into events. */
export function tinyAttempt(baseUrl: string, stream: boolean): (context: AttemptContext) => Promise<Generation> {
  return (context) =>
    new Promise<Generation>((resolve, reject) => {
      const body = JSON.stringify({ stream });
      context.connecting();
      const request = httpRequest(
        `${baseUrl}/generate`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, signal: context.signal },
        (response) => {
          response.setEncoding('utf8');
          if (response.statusCode !== 200) {
            return void readBody(response).then(
              (text) => reject(new UpstreamHttpError(response.statusCode ?? 502, response.headers, `HTTP ${response.statusCode}: ${text}`)),
              reject,
            );
          }
          if (stream) return resolve({ promptTokens: 4, maxTokens: 16, events: parseSse(response) });
          readBody(response).then((text) => {
            const parsed = JSON.parse(text) as { promptTokens: number; events: GenerationEvent[] };
            resolve({ promptTokens: parsed.promptTokens, maxTokens: 16, events: fromArray(parsed.events) });
          }, reject);
        },
      );
      request.on('socket', (socket) => {
        socket.setNoDelay(true);
        if (socket.connecting) socket.once('connect', () => context.connected());
        else context.connected();
      });
      request.on('error', reject);
      request.end(body);
    });
}

async function* fromArray(events: GenerationEvent[]): AsyncGenerator<GenerationEvent> {
  yield* events;
}

async function* parseSse(response: IncomingMessage): AsyncGenerator<GenerationEvent> {
  let buffer = '';
  for await (const chunk of response) {
    buffer += chunk as string;
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => line.slice(6))
        .join('\n');
      if (data === '[DONE]') return;
      if (data) yield JSON.parse(data) as GenerationEvent;
    }
  }
  throw new UpstreamProtocolError('The upstream stream ended without [DONE].');
}
