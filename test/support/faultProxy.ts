import { createServer, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** Where a mid-response fault strikes: after this many body bytes, or after this many complete
 *  SSE events (frames ending in a blank line). */
export type Cut = { bytes: number } | { sseEvents: number };

/** What the proxy does with one request. */
export type Fault =
  | { type: 'pass' }
  | { type: 'status'; status: number; headers?: Record<string, string>; body?: string }
  | { type: 'reset-before' }
  | { type: 'reset-mid'; cut: Cut }
  | { type: 'silent-mid'; cut: Cut }
  | { type: 'delay-first-byte'; ms: number };

export const faults = {
  pass: (): Fault => ({ type: 'pass' }),
  status: (status: number, body = `{"error":{"message":"injected ${status}"}}`): Fault => ({ type: 'status', status, body }),
  /** 429 with Retry-After (seconds, or an HTTP date) and/or OpenAI's retry-after-ms. */
  rateLimited: (retryAfter: { seconds?: number | string; ms?: number }): Fault => ({
    type: 'status',
    status: 429,
    body: '{"error":{"message":"injected 429"}}',
    headers: {
      ...(retryAfter.seconds !== undefined && { 'retry-after': String(retryAfter.seconds) }),
      ...(retryAfter.ms !== undefined && { 'retry-after-ms': String(retryAfter.ms) }),
    },
  }),
  resetBefore: (): Fault => ({ type: 'reset-before' }),
  resetMid: (cut: Cut): Fault => ({ type: 'reset-mid', cut }),
  /** Sends the headers and the body up to `cut`, then nothing, keeping the connection open. */
  silentMid: (cut: Cut): Fault => ({ type: 'silent-mid', cut }),
  delayFirstByte: (ms: number): Fault => ({ type: 'delay-first-byte', ms }),
};

export type FaultPlan = (requestIndex: number, request: IncomingMessage) => Fault | undefined;

export interface FaultProxy {
  /** The proxy's base URL, e.g. http://127.0.0.1:PORT; paths are forwarded as they are. */
  url: string;
  /** Requests seen so far. */
  readonly requests: number;
  /** Faults for the next requests, in order; once used up, requests pass (or follow the plan). */
  enqueue(...faults: Fault[]): void;
  /** A function deciding each request's fault; queued faults still come first. */
  plan(plan: FaultPlan | undefined): void;
  close(): Promise<void>;
}

const hopByHop = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);

function forwardableHeaders(headers: IncomingMessage['headers'], dropLength: boolean): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (hopByHop.has(name) || (dropLength && name === 'content-length')) continue;
    if (value !== undefined) result[name] = value;
  }
  return result;
}

/** Bytes of `chunk` that fit before the cut, given what has passed already; tracks SSE frames. */
class CutTracker {
  #bytes = 0;
  #events = 0;
  #tail = '';
  constructor(private readonly cut: Cut) {}

  /** The prefix of `chunk` to send; `reached` once the cut point is in it. */
  take(chunk: Buffer): { send: Buffer; reached: boolean } {
    if ('bytes' in this.cut) {
      const room = Math.max(0, this.cut.bytes - this.#bytes);
      this.#bytes += Math.min(room, chunk.length);
      return { send: chunk.subarray(0, room), reached: this.#bytes >= this.cut.bytes };
    }
    if (this.#events >= this.cut.sseEvents) return { send: chunk.subarray(0, 0), reached: true };
    // Scan for blank-line frame ends, carrying the previous chunk's tail across the boundary.
    const text = this.#tail + chunk.toString('latin1');
    const offset = this.#tail.length;
    const frameEnd = /\r?\n\r?\n/g;
    let afterLastFrame = 0;
    for (let match = frameEnd.exec(text); match; match = frameEnd.exec(text)) {
      this.#events += 1;
      afterLastFrame = match.index + match[0].length;
      if (this.#events >= this.cut.sseEvents) return { send: chunk.subarray(0, Math.max(0, afterLastFrame - offset)), reached: true };
    }
    // Keep a possible half of a frame end for the next chunk (never one already counted).
    this.#tail = text.slice(Math.max(afterLastFrame, text.length - 3));
    return { send: chunk, reached: false };
  }
}

/** A loopback HTTP proxy in front of `upstreamUrl` that injects faults per request: for testing
 *  what llmsvc does when an upstream misbehaves. Pass-through responses stream chunk by chunk. */
export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const queue: Fault[] = [];
  let planFn: FaultPlan | undefined;
  let requests = 0;
  const sockets = new Set<Socket>();

  const server: Server = createServer((request, response) => {
    const index = requests++;
    const fault = queue.shift() ?? planFn?.(index, request) ?? faults.pass();
    void handle(fault, request, response);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(fault: Fault, request: IncomingMessage, response: ServerResponse): Promise<void> {
    switch (fault.type) {
      case 'reset-before':
        request.socket.destroy();
        return;
      case 'status': {
        request.resume();
        const body = fault.body ?? '';
        response.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...fault.headers });
        response.end(body);
        return;
      }
      case 'delay-first-byte': {
        const gone = new Promise<void>((resolve) => response.once('close', resolve));
        await Promise.race([new Promise((resolve) => setTimeout(resolve, fault.ms)), gone]);
        if (response.destroyed || request.socket.destroyed) return;
        return forward(request, response);
      }
      case 'pass':
        return forward(request, response);
      case 'reset-mid':
      case 'silent-mid':
        return forward(request, response, fault);
    }
  }

  function forward(request: IncomingMessage, response: ServerResponse, cutFault?: Extract<Fault, { cut: Cut }>): void {
    const outgoing = httpRequest(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: `${upstream.pathname.replace(/\/$/, '')}${request.url}`,
        headers: { ...forwardableHeaders(request.headers, false), host: upstream.host },
      },
      (upstreamResponse) => {
        response.writeHead(upstreamResponse.statusCode ?? 502, forwardableHeaders(upstreamResponse.headers, cutFault !== undefined));
        response.flushHeaders();
        const tracker = cutFault && new CutTracker(cutFault.cut);
        let struck = false;
        upstreamResponse.on('data', (chunk: Buffer) => {
          if (struck) return;
          if (!tracker) return void response.write(chunk);
          const { send, reached } = tracker.take(chunk);
          if (!reached) return void response.write(send);
          struck = true;
          upstreamResponse.destroy();
          // reset-mid: destroy only once the bytes before the cut are out, or the client would see
          // a reset before the first byte. silent-mid: leave the connection open, send nothing more.
          const strike = () => (cutFault!.type === 'reset-mid' ? response.socket?.destroy() : undefined);
          if (send.length > 0) response.write(send, strike);
          else strike();
        });
        upstreamResponse.on('end', () => {
          if (!struck) response.end();
        });
        upstreamResponse.on('error', () => {
          if (!struck) response.socket?.destroy();
        });
      },
    );
    outgoing.on('error', () => response.socket?.destroy());
    response.on('close', () => outgoing.destroy());
    request.pipe(outgoing);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    enqueue: (...more) => void queue.push(...more),
    plan: (plan) => void (planFn = plan),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
