import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldUpstream {
  /** Base URL for an openai-compatible provider (ends in /v1). */
  url: string;
  /** Chat requests received and not yet answered. */
  readonly waiting: number;
  /** Chat requests received in all. */
  readonly received: number;
  /** Answers every waiting request. */
  releaseAll(): void;
  close(): Promise<void>;
}

/** An OpenAI-compatible upstream that holds every chat completion until the test releases it:
 *  a request that stays in flight as long as the test needs (concurrency limits). */
export async function startHeldUpstream(): Promise<HeldUpstream> {
  const waiting = new Set<ServerResponse>();
  let received = 0;
  const answer = (response: ServerResponse) => {
    waiting.delete(response);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id: 'chatcmpl-held',
        object: 'chat.completion',
        created: 0,
        model: 'held',
        choices: [{ index: 0, message: { role: 'assistant', content: 'released' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
      }),
    );
  };
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received++;
      waiting.add(response);
      response.on('close', () => waiting.delete(response));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get waiting() {
      return waiting.size;
    },
    get received() {
      return received;
    },
    releaseAll: () => {
      for (const response of [...waiting]) answer(response);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of waiting) response.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
