// What the gateway benchmarks share (bench/gateway.ts, bench/scaleOut.ts): starting the static
// upstream, the bare/round-robin proxy, `llmsvc serve` with a config routing model "bench" to the
// upstream, and Portkey; the load clients (autocannon at 32 connections, an open-loop client at a
// fixed rate timed with process.hrtime); CPU accounting from /proc; and the report's formatting.
//
// The llmsvc build comes from the command line of the benchmark: `--tsx` runs the sources through
// tsx, `--cli <main.js>` another build; else dist/ (as users run it).
import { execSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import {
  adminKey,
  benchLogger,
  cliPath,
  drain,
  freePort,
  markdownTable,
  median,
  percentile,
  processCpuMs,
  projectRoot,
  reapedChildrenCpuMs,
  sleep,
  spawnTracked,
  textTable,
  waitForLine,
  waitReady,
} from './support.js';

/** Logs under the running benchmark's name (`[gateway] …`, `[scaleOut] …`). */
const log = benchLogger(path.basename(process.argv[1] ?? 'bench', '.ts'));

const argv = process.argv.slice(2);
const cliArgIndex = argv.indexOf('--cli');
/** The llmsvc CLI the benchmark runs: dist/ unless `--tsx` or `--cli <main.js>`. */
export const cli =
  cliArgIndex >= 0 ? path.resolve(argv[cliArgIndex + 1]!) : argv.includes('--tsx') ? path.join(projectRoot, 'apps/cli/main.ts') : cliPath;
const cliNodeArgs = cli.endsWith('.ts') ? ['--import', 'tsx', cli] : [cli];

/** Connections of the saturating (max-throughput) runs. */
export const connections = 32;
/** The first second of a paced run opens connections and is not counted. */
export const pacedWarmupSeconds = 1;
/** Requests in flight beyond which the paced client skips sends (counted) instead of queueing without
 *  end: a server slower than the rate would otherwise make the run last as long as its backlog. */
export const pacedMaxOutstanding = 256;

export const messages = [{ role: 'user', content: 'Say hello.' }];
/** Not deterministic (default temperature 1, no seed): never a cache candidate. */
export const routedBody = JSON.stringify({ model: 'bench', messages, max_tokens: 16 });
/** What the upstream and Portkey get: the upstream's own model name. */
export const upstreamBody = JSON.stringify({ model: 'm', messages, max_tokens: 16 });
export const unusedKey = 'Bearer sk-bench-not-checked';

export interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  pid: number;
  /** Bytes and lines the process wrote to stderr (its logs) so far. */
  logBytes?: () => number;
}

export interface LoadRun {
  target: string;
  round: number;
  rps: number;
  total: number;
  p50: number;
  p99: number;
  mean: number;
  non2xx: number;
  errors: number;
  serverCpuMsPerRequest: number;
  upstreamCpuMsPerRequest: number;
  logBytesPerRequest?: number;
}

export interface PacedRun {
  target: string;
  round: number;
  client: 'hrtime' | 'autocannon';
  rate: number;
  /** Sends skipped because pacedMaxOutstanding requests were in flight (own client only). */
  skipped: number;
  achievedRps: number;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  non2xx: number;
  errors: number;
}

// ---------------------------------------------------------------------------------------------
// Temp dirs of the servers started here: removed by removeTempDirs once they are stopped.

const tempDirs: string[] = [];

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Servers, each its own process

/** bench/bareProxy.ts: one more HTTP hop in Node, no features; with several upstream ports it
 *  sends the requests round-robin (a small load balancer in front of several nodes). */
export async function startBareProxy(upstreamPorts: number[]): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench/bareProxy.ts'), upstreamPorts.join(',')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = drain(child);
  const match = await waitForLine(child, /^bare proxy listening on (\d+)$/, 'the bare proxy', output.tail);
  return { child, port: Number(match[1]) };
}

export async function startUpstream(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawnTracked(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench/staticUpstream.ts'), '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = drain(child);
  const match = await waitForLine(child, /^static upstream listening on (\d+)$/, 'the static upstream', output.tail);
  return { child, port: Number(match[1]) };
}

export interface Llmsvc {
  name: string;
  child: ChildProcess;
  url: string;
  userKey?: string;
  logBytes: () => number;
  dataDir: string;
}

/** Config settings of an llmsvc node beyond its provider and route (e.g. database_url, redis_url). */
export type LlmsvcSettings = { log_level: string; auth: boolean } & Record<string, unknown>;

export interface LlmsvcOptions {
  /** Flags for node itself, before the CLI (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** Create a user key through this node's admin API (default: when auth is on). Nodes sharing a
   *  database share keys: one node creates it, the others are given it. */
  createKey?: boolean;
}

/** `llmsvc serve` with a config file routing model "bench" to the static upstream. */
export async function startLlmsvc(name: string, upstreamPort: number, settings: LlmsvcSettings, options: LlmsvcOptions = {}): Promise<Llmsvc> {
  const dir = tempDir('llmsvc-gateway-');
  const modelsDir = path.join(dir, 'models');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(modelsDir);
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      ...settings,
      default_model: false,
      providers: [{ id: 'static', type: 'openai-compatible', base_url: `http://127.0.0.1:${upstreamPort}/v1` }],
      routes: [{ model: 'bench', targets: [{ provider: 'static', model: 'm' }] }],
    }),
  );
  const child = spawnTracked(process.execPath, [...(options.nodeArgs ?? []), ...cliNodeArgs, 'serve', '--config', configFile, '--port', '0', '--data-dir', dataDir, '--models-dir', modelsDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LLMSVC_ADMIN_KEY: adminKey },
  });
  const output = drain(child);
  const match = await waitForLine(child, /^llmsvc listening on (http:\/\/\S+)$/, name, output.tail);
  const url = match[1]!;
  // The runtime thread loads llama.cpp at start; let it finish so it does not share the cores with the load.
  await waitReady(url, 60_000).catch((error: unknown) => log(`${name}: ${(error as Error).message}; going on (upstream routes do not need it)`));
  const userKey = (options.createKey ?? settings.auth) ? await createUserKey(name, url) : undefined;
  return { name, child, url, userKey, logBytes: output.bytes, dataDir };
}

/** A real user key with rpm and tpm limits far above what the load can reach: every request is
 *  checked against them (and gets the x-ratelimit-* headers), none is refused. */
async function createUserKey(name: string, url: string): Promise<string> {
  const response = await fetch(`${url}/admin/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'gateway-bench', rpm: 1_000_000_000, tpm: 1_000_000_000_000 }),
  });
  if (response.status !== 201) throw new Error(`${name}: creating the key answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { key: string }).key;
}

export function llmsvcTarget(server: Llmsvc, body = routedBody, name = server.name): Target {
  return {
    name,
    url: `${server.url}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: server.userKey ? `Bearer ${server.userKey}` : unusedKey },
    body,
    pid: server.child.pid!,
    logBytes: server.logBytes,
  };
}

/** The static upstream called directly: the floor every added latency is measured against. */
export function directTarget(upstream: { child: ChildProcess; port: number }): Target {
  return {
    name: 'direct upstream',
    url: `http://127.0.0.1:${upstream.port}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: unusedKey },
    body: upstreamBody,
    pid: upstream.child.pid!,
  };
}

export const portkeyRoot = path.join(projectRoot, 'node_modules/@portkey-ai/gateway');
export const portkeyVersion = (JSON.parse(fs.readFileSync(path.join(portkeyRoot, 'package.json'), 'utf8')) as { version: string }).version;

export async function startPortkey(): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  // --headless: no log console UI (what NODE_ENV=production also turns off); --port=N as its CLI reads it.
  const child = spawnTracked(process.execPath, [path.join(portkeyRoot, 'build/start-server.js'), `--port=${port}`, '--headless'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  const output = drain(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + 30_000;
  for (;;) {
    const response = await fetch(`${url}/`).catch(() => undefined);
    if (response) {
      await response.arrayBuffer();
      break;
    }
    if (child.exitCode !== null || performance.now() > deadline) throw new Error(`Portkey did not start:\n${output.tail()}`);
    await sleep(100);
  }
  return { child, url };
}

/** Portkey proxying the static upstream at `upstreamUrl` (…/v1), as an OpenAI-compatible custom host. */
export function portkeyTarget(portkey: { child: ChildProcess; url: string }, upstreamUrl: string): Target {
  return {
    name: `Portkey ${portkeyVersion}`,
    url: `${portkey.url}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: unusedKey, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': upstreamUrl },
    body: upstreamBody,
    pid: portkey.child.pid!,
  };
}

/** Throws unless every target answers the static upstream's completion before any load. */
export async function checkAnswers(targets: Target[]): Promise<void> {
  for (const target of targets) {
    const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
    const text = await response.text();
    if (response.status !== 200 || !text.includes('Hello from static.')) throw new Error(`${target.name} answered ${response.status}: ${text.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting

/** CPU ms of a process and all its descendants (a cluster primary and its workers, a postmaster and
 *  its backends), those that exited included once their parent has reaped them (a PostgreSQL backend
 *  whose connection a pool closed would otherwise take its CPU out of the sum). */
export function treeCpuMs(pid: number): number {
  let total = 0;
  const stack = [pid];
  while (stack.length > 0) {
    const current = stack.pop()!;
    try {
      total += processCpuMs(current) + reapedChildrenCpuMs(current);
      for (const task of fs.readdirSync(`/proc/${current}/task`)) {
        const children = fs.readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim();
        if (children) stack.push(...children.split(' ').map(Number));
      }
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Starts counting the CPU of the process trees of `pids` together; the function returns the ms used since. */
export function cpuMeter(pids: readonly number[]): () => number {
  const total = () => pids.reduce((sum, pid) => sum + treeCpuMs(pid), 0);
  const start = total();
  return () => total() - start;
}

// ---------------------------------------------------------------------------------------------
// Load

/** autocannon at `connections` connections for `seconds`: throughput, whole-ms latencies, and the CPU
 *  the target's process and the upstream used per request. */
export async function saturate(target: Target, upstreamPid: number, round: number, seconds: number): Promise<LoadRun> {
  const cpu = processCpuMs(target.pid);
  const upstreamCpu = processCpuMs(upstreamPid);
  const logBytes = target.logBytes?.();
  const result = await autocannon({ url: target.url, method: 'POST', headers: target.headers, body: target.body, connections, duration: seconds });
  const total = result.requests.total;
  const run: LoadRun = {
    target: target.name,
    round,
    rps: total / result.duration,
    total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    mean: result.latency.mean,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    serverCpuMsPerRequest: (processCpuMs(target.pid) - cpu) / Math.max(1, total),
    upstreamCpuMsPerRequest: (processCpuMs(upstreamPid) - upstreamCpu) / Math.max(1, total),
    ...(logBytes === undefined ? {} : { logBytesPerRequest: (target.logBytes!() - logBytes) / Math.max(1, total) }),
  };
  log(`${target.name} r${round}: ${run.rps.toFixed(0)} RPS, p50 ${run.p50} ms, p99 ${run.p99} ms, non-2xx ${run.non2xx}, errors ${run.errors}, server CPU ${run.serverCpuMsPerRequest.toFixed(3)} ms/req`);
  return run;
}

/** Open-loop load at a fixed rate from this process, each request timed with process.hrtime
 *  (sub-ms, where autocannon's histogram has whole ms). Keep-alive connections, at most 64.
 *  `completed`: every request answered or failed, the uncounted first second included. */
export async function paced(
  target: Target,
  rate: number,
  seconds: number,
): Promise<Omit<PacedRun, 'round' | 'client' | 'rate'> & { headers: http.IncomingHttpHeaders[]; completed: number }> {
  const url = new URL(target.url);
  const body = Buffer.from(target.body);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const headers = { ...target.headers, 'content-length': String(body.length) };
  const latencies: number[] = [];
  const seenHeaders: http.IncomingHttpHeaders[] = [];
  let non2xx = 0;
  let errors = 0;
  let sent = 0;
  let skipped = 0;
  let outstanding = 0;
  let completed = 0;
  const total = rate * seconds;
  const countFrom = rate * pacedWarmupSeconds;
  const start = performance.now();
  let countedFrom = 0;
  let countedTo = 0;
  await new Promise<void>((resolve) => {
    const done = () => {
      if (sent >= total && outstanding === 0) resolve();
    };
    const fire = (counted: boolean) => {
      outstanding++;
      const began = process.hrtime.bigint();
      const request = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (response) => {
        response.on('data', () => {});
        response.on('end', () => {
          outstanding--;
          completed++;
          if (counted) {
            latencies.push(Number(process.hrtime.bigint() - began) / 1e6);
            if (response.statusCode! < 200 || response.statusCode! > 299) non2xx++;
            if (seenHeaders.length < 5) seenHeaders.push(response.headers);
            countedTo = performance.now();
          }
          done();
        });
      });
      request.on('error', () => {
        outstanding--;
        completed++;
        if (counted) errors++;
        done();
      });
      request.end(body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
      while (sent < due) {
        if (sent === countFrom) countedFrom = performance.now();
        if (outstanding < pacedMaxOutstanding) fire(sent >= countFrom);
        else if (sent >= countFrom) skipped++;
        sent++;
      }
      if (sent < total) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  agent.destroy();
  return {
    target: target.name,
    achievedRps: (latencies.length / (countedTo - countedFrom)) * 1000,
    count: latencies.length,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    non2xx,
    errors,
    skipped,
    headers: seenHeaders,
    completed,
  };
}

export async function pacedAutocannon(target: Target, rate: number, seconds: number): Promise<Omit<PacedRun, 'round' | 'client' | 'rate'>> {
  const result = await autocannon({ url: target.url, method: 'POST', headers: target.headers, body: target.body, connections, duration: seconds, overallRate: rate });
  return {
    target: target.name,
    achievedRps: result.requests.total / result.duration,
    count: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    skipped: 0,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

export const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '—');
export const fmt0 = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '—');
export const range = (values: number[], format: (value: number) => string) =>
  values.length === 1 ? format(values[0]!) : `${format(median(values))} (${format(Math.min(...values))}–${format(Math.max(...values))})`;

/** One sequence of the targets per round, reversed every other round so that drift hits all alike. */
export const orderOf = <T>(items: T[], round: number) => (round % 2 === 1 ? items : [...items].reverse());

/** Prints a table to stdout and returns it as markdown. */
export function show(title: string, header: string[], rows: string[][]): string {
  process.stdout.write(`\n${title}\n${textTable(header, rows)}\n`);
  return markdownTable(header, rows);
}

/** The RESULTS.md line naming the machine. */
export function machineLine(): string {
  const nproc = execSync('nproc').toString().trim();
  const uname = execSync('uname -a').toString().trim();
  return `- Machine: \`nproc\` ${nproc}; \`${uname}\`; ${os.cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}`;
}

export const autocannonVersion = (JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules/autocannon/package.json'), 'utf8')) as { version: string }).version;
