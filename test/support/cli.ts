import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { testAdminKey } from './server.js';

/** The built CLI, as `npx llmsvc` runs it (npm test builds it first). */
export const cliPath = path.resolve(import.meta.dirname, '../../dist/apps/cli/main.js');

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  stdoutLines: string[];
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts `llmsvc serve` and resolves once it printed the URL it listens on. */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [cliPath, 'serve', '--port', '0', ...args], {
    env: { ...process.env, LLMSVC_ADMIN_KEY: testAdminKey, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdoutLines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not print its URL in time; stderr: ${stderr}`)), 60_000);
    void exited.then((code) => reject(new Error(`serve exited with ${code} before listening; stderr: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      stdoutLines.push(line);
      const match = /^llmsvc listening on (http:\/\/\S+)$/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, stdoutLines, stderr: () => stderr, exited });
      }
    });
  });
}

/** Runs the CLI without blocking this process's event loop (runCli's spawnSync would stall a
 *  server the test runs in-process, e.g. s3rver, that the command talks to). */
export async function runCliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const status = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { status, stdout, stderr };
}
