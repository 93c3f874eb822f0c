import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface EmbeddedServerOptions {
  /** The program that runs JavaScript: Electron's own binary (with ELECTRON_RUN_AS_NODE=1) in the
   *  app, process.execPath in tests. */
  runtime: string;
  /** The bundled CLI entry, dist/apps/cli/main.js. */
  cliPath: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  /** Extra `llmsvc serve` flags (tests pass --models-dir). */
  extraArgs?: string[];
  /** How long to wait for "listening on" (a first start may build the default model). */
  startTimeoutMs?: number;
  /** Each line the server writes (stdout and stderr), for the app's log. */
  onLine?: (line: string) => void;
}

export interface EmbeddedServer {
  url: string;
  process: ChildProcess;
  /** Resolves when the process has exited (after stop() or on its own). */
  exited: Promise<number | null>;
  /** SIGTERM (the server drains and closes SQLite), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

const listeningLine = /llmsvc listening on (http:\/\/\S+)/;

/** Starts `llmsvc serve` on a free loopback port (port 0: the server picks one and prints it) and
 *  resolves with its URL once it prints its "listening on" line. */
export function startEmbeddedServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const args = [options.cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', options.dataDir, ...(options.extraArgs ?? [])];
  const child = spawn(options.runtime, args, {
    env: { ...process.env, ...options.env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    windowsHide: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (graceMs = 15_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  const recent: string[] = [];
  let listening: ((url: string) => void) | undefined;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      options.onLine?.(line);
      const match = stream === child.stdout ? listeningLine.exec(line) : null;
      if (match) listening?.(match[1]!);
    });
  }
  const startTimeoutMs = options.startTimeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      void stop(2_000);
      reject(new Error(`llmsvc serve did not start within ${startTimeoutMs} ms. Its last lines:\n${recent.join('\n')}`));
    }, startTimeoutMs);
    listening = (url) => {
      clearTimeout(timeout);
      resolve({ url, process: child, exited, stop });
    };
    child.once('error', (error) => {
      clearTimeout(timeout);
      reject(error);
    });
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new Error(`llmsvc serve exited (code ${code}) before it was listening. Its last lines:\n${recent.join('\n')}`));
    });
  });
}
