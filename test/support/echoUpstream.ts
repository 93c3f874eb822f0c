import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface EchoUpstream {
  /** Base URL for an openai-compatible provider (ends in /v1). */
  url: string;
  /** The JSON bodies of the chat requests it received, in order. */
  readonly received: { messages: { role: string; content: string }[]; stream?: boolean }[];
  /** The W3C traceparent header of each chat request, in arrival order (undefined when absent). */
  readonly traceparents: (string | undefined)[];
  close(): Promise<void>;
}

/** A stand-in for a cloud OpenAI endpoint that answers every chat completion by echoing the last
 *  user message: streamed 3 characters a chunk (so placeholders split across chunks) with usage
 *  in the last chunk, or as one chat.completion when the request does not ask for a stream. It
 *  records what it received, to check what left the machine. `delayMs`: how long each answer waits
 *  (work that must still be running when the test acts). */
export async function startEchoUpstream(options: { delayMs?: number } = {}): Promise<EchoUpstream> {
  const received: EchoUpstream['received'] = [];
  const traceparents: EchoUpstream['traceparents'] = [];
  const server = createServer((request, response) => {
    if (request.method === 'GET') {
      // Its model list: what a pool's health check asks for.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ object: 'list', data: [{ id: 'echo', object: 'model', created: 0, owned_by: 'echo' }] }));
      return;
    }
    traceparents.push(request.headers.traceparent as string | undefined);
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => setTimeout(() => answer(body), options.delayMs ?? 0));
    const answer = (body: string) => {
      const parsed = JSON.parse(body) as EchoUpstream['received'][number];
      received.push(parsed);
      const text = [...parsed.messages].reverse().find((message) => message.role === 'user')?.content ?? '';
      const usage = { prompt_tokens: 10, completion_tokens: Math.ceil(text.length / 3), total_tokens: 10 + Math.ceil(text.length / 3) };
      if (parsed.stream !== true) {
        response.writeHead(200, { 'content-type': 'application/json' });
        const message = { role: 'assistant', content: text };
        response.end(JSON.stringify({ id: 'chatcmpl-echo', object: 'chat.completion', created: 0, model: 'echo', choices: [{ index: 0, message, finish_reason: 'stop' }], usage }));
        return;
      }
      const envelope = { id: 'chatcmpl-echo', object: 'chat.completion.chunk', created: 0, model: 'echo' };
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (payload: object) => response.write(`data: ${JSON.stringify({ ...envelope, ...payload })}\n\n`);
      for (let index = 0; index < text.length; index += 3) {
        send({ choices: [{ index: 0, delta: { content: text.slice(index, index + 3) }, finish_reason: null }] });
      }
      send({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      send({ choices: [], usage });
      response.end('data: [DONE]\n\n');
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    received,
    traceparents,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
