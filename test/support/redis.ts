import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import readline from 'node:readline';
import { tempDir } from './server.js';

/** A free loopback port (the OS picks it; it is closed again at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface RedisProcess {
  url: string;
  pid?: number;
  stop(): Promise<void>;
}

/** A redis-server of the test's own on a free loopback port (no persistence). */
export async function startRedis(port?: number): Promise<RedisProcess> {
  port ??= await freePort();
  const dir = tempDir('llmsvc-redis-');
  const child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('redis-server did not start')), 10_000);
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (/Ready to accept connections/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
