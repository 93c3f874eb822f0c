// The floor of any Node.js gateway on this machine, for bench/gateway.ts, and the round-robin load
// balancer in front of several llmsvc nodes for bench/scaleOut.ts, run in its own process:
//
//   node bench/bareProxy.ts <upstream port>[,<upstream port>…] [port]      (prints `bare proxy listening on <port>`)
//
// node:http in front, undici's Pool behind (the client llmsvc uses; one per upstream, taken in
// turn, request by request), and nothing else: the body is read, sent to the upstream as it is
// (with the client's Authorization header, which llmsvc nodes check), and the upstream's answer
// sent back as it is. No parsing, auth, limits, logs, metrics or routing. What a gateway adds
// beyond this is the cost of its features; what this adds over calling the upstream directly is
// the cost of one more HTTP hop in Node.
import http from 'node:http';
import { Pool } from 'undici';

const upstreamPorts = process.argv[2]!.split(',').map(Number);
const pools = upstreamPorts.map((port) => new Pool(`http://127.0.0.1:${port}`, { keepAliveTimeout: 30_000 }));
let next = 0;

const server = http.createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const pool = pools[next]!;
    next = (next + 1) % pools.length;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (request.headers.authorization) headers.authorization = request.headers.authorization;
    pool.request({ path: request.url!, method: 'POST', headers, body: Buffer.concat(chunks) }).then(
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
