import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeEngine {
  name: string;
  /** Base URL for an openai-compatible provider (ends in /v1). */
  url: string;
  /** Chat completions it received (also those it failed). */
  readonly hits: number;
  /** GET /v1/models it answered (health checks). */
  readonly modelListings: number;
  /** The first user message of each chat it received, in order. */
  readonly firstUserMessages: string[];
  /** Most chats it held at once. */
  readonly maxActive: number;
  /** How long it holds each chat before answering. */
  holdMs: number;
  /** While set, chats are held until it settles (then holdMs more). */
  gate?: Promise<void>;
  /** Answer every chat with this HTTP status instead (e.g. 500). */
  failWith?: number;
  /** Answer this many more chats with a 500. */
  failNext: number;
  /** Stop listening and drop its connections: a dead engine (connection refused). */
  kill(): Promise<void>;
  /** Listen again on the same port. */
  revive(): Promise<void>;
}

/** A stand-in for an OpenAI-compatible engine (vLLM, llama-server…) that counts what it gets:
 *  GET /v1/models answers 200; POST /v1/chat/completions answers `reply from <name>` after
 *  `holdMs`, streamed in chunks with usage when asked, else as one chat.completion. */
export async function startFakeEngine(name: string, holdMs = 0): Promise<FakeEngine> {
  let hits = 0;
  let modelListings = 0;
  let active = 0;
  let maxActive = 0;
  const firstUserMessages: string[] = [];
  const engine = { holdMs, failWith: undefined as number | undefined, failNext: 0, gate: undefined as Promise<void> | undefined };
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', async () => {
      if (request.method === 'GET' && request.url === '/v1/models') {
        modelListings += 1;
        response.writeHead(200, { 'content-type': 'application/json' });
        return void response.end(JSON.stringify({ object: 'list', data: [{ id: 'm', object: 'model', created: 0, owned_by: name }] }));
      }
      if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
        response.writeHead(404);
        return void response.end();
      }
      hits += 1;
      const parsed = JSON.parse(body) as { messages: { role: string; content: string }[]; stream?: boolean };
      firstUserMessages.push(parsed.messages.find((message) => message.role === 'user')?.content ?? '');
      if (engine.failWith || engine.failNext > 0) {
        if (!engine.failWith) engine.failNext -= 1;
        response.writeHead(engine.failWith ?? 500, { 'content-type': 'application/json' });
        return void response.end(JSON.stringify({ error: { message: `${name} is failing`, type: 'server_error' } }));
      }
      active += 1;
      maxActive = Math.max(maxActive, active);
      await engine.gate;
      await new Promise((resolve) => setTimeout(resolve, engine.holdMs));
      active -= 1;
      const text = `reply from ${name}`;
      const usage = { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 };
      if (parsed.stream !== true) {
        response.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: text };
        return void response.end(JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion', created: 0, model: 'm', choices: [{ index: 0, message, finish_reason: 'stop' }], usage }));
      }
      const envelope = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: 'm' };
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (payload: object) => response.write(`data: ${JSON.stringify({ ...envelope, ...payload })}\n\n`);
      for (const piece of text.split(/(?= )/)) send({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      send({ choices: [], usage });
      response.end('data: [DONE]\n\n');
    });
  };
  let server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    get holdMs() {
      return engine.holdMs;
    },
    set holdMs(value: number) {
      engine.holdMs = value;
    },
    get failWith() {
      return engine.failWith;
    },
    set failWith(value: number | undefined) {
      engine.failWith = value;
    },
    get gate() {
      return engine.gate;
    },
    set gate(value: Promise<void> | undefined) {
      engine.gate = value;
    },
    get failNext() {
      return engine.failNext;
    },
    set failNext(value: number) {
      engine.failNext = value;
    },
    url: `http://127.0.0.1:${port}/v1`,
    get hits() {
      return hits;
    },
    get modelListings() {
      return modelListings;
    },
    get maxActive() {
      return maxActive;
    },
    firstUserMessages,
    kill: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
    revive: async () => {
      server = createServer(handle);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
  };
}
