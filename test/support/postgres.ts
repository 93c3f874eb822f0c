import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { freePort } from './redis.js';
import { tempDir } from './server.js';

export interface PostgresServer {
  /** A superuser URL of the server's `postgres` database. */
  url: string;
  /** The postmaster's pid, when this process started it (its backends are its children). */
  pid?: number;
  stop(): Promise<void>;
}

/** Where Debian's `postgresql` package puts initdb and postgres (not on PATH), else PATH. */
function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((name) => fs.existsSync(path.join(root, name, 'bin/initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return path.join(root, newest, 'bin');
  return path.dirname(execFileSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' }).trim());
}

/** PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A PostgreSQL server of the test's own: a fresh cluster in a temp dir, on a free loopback port,
 *  trusting local connections, without fsync (a test's data needs no durability). */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const user = serverUser();
  const dir = tempDir('llmsvc-postgres-');
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const dataDir = path.join(dir, 'data');
  execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], { ...user, stdio: 'pipe' });
  const port = await freePort();
  const args = ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const child = spawn(path.join(bin, 'postgres'), args, { ...user, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`postgres did not start:\n${log}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`postgres exited with ${code}:\n${log}`)));
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      log += `${line}\n`;
      if (/ready to accept connections/.test(line)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGINT'); // fast shutdown
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The server the PostgreSQL tests use: the one LLMSVC_TEST_DATABASE_URL names (left running),
 *  else one of their own (startPostgres). */
export async function testPostgres(): Promise<PostgresServer> {
  const given = process.env.LLMSVC_TEST_DATABASE_URL;
  return given ? { url: given, stop: async () => undefined } : startPostgres();
}

/** A new, empty database on the server at `serverUrl`; its URL. */
export async function createDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.href;
}
