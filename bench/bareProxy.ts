// The floor of any Node.js gateway on this machine, for bench/gateway.ts, run in its own process:
//
//   node bench/bareProxy.ts <upstream port> [port]      (prints `bare proxy listening on <port>`)
//
// node:http in front, undici's Pool behind (the client llmsvc uses), and nothing else: the body
// is read, sent to the upstream as it is, and the upstream's answer sent back as it is. No
// parsing, auth, limits, logs, metrics or routing. What a gateway adds beyond this is the cost
// of its features; what this adds over calling the upstream directly is the cost of one more
// HTTP hop in Node.
import http from 'node:http';
import { Pool } from 'undici';

const upstreamPort = Number(process.argv[2]);
const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { keepAliveTimeout: 30_000 });

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    pool.request({ path: request.url!, method: 'POST', headers: { 'content-type': 'application/json' }, body: Buffer.concat(chunks) }).then(
      async (answer) => {
        const body = Buffer.from(await answer.body.arrayBuffer());
        response.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
        response.end(body);
      },
      () => {
        response.writeHead(502);
        response.end();
      },
    );
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => {
  console.log(`bare proxy listening on ${(server.address() as { port: number }).port}`);
});
