import type { FastifyReply } from 'fastify';
import { cacheStatusHeader } from './cacheControl.js';

/** Server-sent events on a hijacked reply: `data: <json>` frames, as OpenAI streams them. */
export class SseWriter {
  private opened = false;

  constructor(private readonly reply: FastifyReply) {}

  /** Sends the status line and headers, including any set on the reply before (x-request-id, rate limits). */
  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.reply.hijack();
    const headers: Record<string, string | number | string[]> = {};
    for (const [name, value] of Object.entries(this.reply.getHeaders())) {
      if (value !== undefined && name !== 'content-length') headers[name] = value;
    }
    const cacheStatus = this.reply.request.accounting?.cacheStatus;
    if (cacheStatus) headers[cacheStatusHeader] = cacheStatus;
    this.reply.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
  }

  get closed(): boolean {
    return this.reply.raw.destroyed || this.reply.raw.writableEnded;
  }

  data(payload: unknown): void {
    if (!this.closed) this.reply.raw.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  event(name: string, payload: unknown): void {
    if (!this.closed) this.reply.raw.write(`event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`);
  }

  end(finalLine?: string): void {
    if (this.closed) return;
    if (finalLine) this.reply.raw.write(finalLine);
    this.reply.raw.end();
  }
}
