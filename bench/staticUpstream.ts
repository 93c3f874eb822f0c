// A fast static OpenAI-compatible upstream for bench/gateway.ts, run in its own process:
//
//   node --import tsx bench/staticUpstream.ts [port]      (prints `static upstream listening on <port>`)
//
// POST …/chat/completions answers a fixed chat.completion JSON, or — when the body has
// `"stream":true`, as llmsvc's upstream providers always send — a short fixed SSE stream: a role
// chunk, three content chunks, a finish chunk, a usage chunk (as with stream_options.include_usage)
// and `data: [DONE]`. Every response is prebuilt once; the only per-request work is reading the
// body and one write. Anything else is a 404.
import http from 'node:http';

const id = 'chatcmpl-static';
const created = 1_764_000_000;
const model = 'm';
const usage = { prompt_tokens: 12, completion_tokens: 4, total_tokens: 16 };

const completion = Buffer.from(
  JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model,
    choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from static.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
    usage,
  }),
);

const chunk = (choices: unknown[], extra: object = {}) =>
  `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
const delta = (fields: object, finishReason: string | null = null) => [{ index: 0, delta: fields, logprobs: null, finish_reason: finishReason }];

const stream = Buffer.from(
  [
    chunk(delta({ role: 'assistant', content: '' })),
    chunk(delta({ content: 'Hello' })),
    chunk(delta({ content: ' from' })),
    chunk(delta({ content: ' static.' })),
    chunk(delta({}, 'stop')),
    chunk([], { usage }),
    'data: [DONE]\n\n',
  ].join(''),
);

const server = http.createServer((request, response) => {
  if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions')) {
    response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found","type":"invalid_request_error"}}');
    return;
  }
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    const streamed = Buffer.concat(parts).includes('"stream":true');
    const body = streamed ? stream : completion;
    response.writeHead(200, {
      'content-type': streamed ? 'text/event-stream' : 'application/json',
      'content-length': body.length,
      ...(streamed ? { 'cache-control': 'no-cache' } : {}),
    });
    response.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = server.address() as import('node:net').AddressInfo;
  process.stdout.write(`static upstream listening on ${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.close(() => process.exit(0)));
