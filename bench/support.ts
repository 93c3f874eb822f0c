// Shared pieces of the benchmarks: spawning `llmsvc serve`, killing what was spawned, medians,
// RSS, machine facts and the RESULTS.md section writer. Nothing here asserts: benchmarks report.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { synthesizeModel, type SynthPreset } from '../models/synth/index.js';

export const projectRoot = path.resolve(import.meta.dirname, '..');
export const cliPath = path.join(projectRoot, 'dist/apps/cli/main.js');
/** Scratch space for generated models and temp files; git-ignored. */
export const workDir = path.join(projectRoot, 'bench/.work');
export const resultsFile = path.join(projectRoot, 'bench/RESULTS.md');

/** The shared test models (read-only), as the tests find them: LLMSVC_TEST_MODELS_DIR overrides,
 *  relative paths are taken from the project root. */
export const testModelsDir = path.resolve(projectRoot, process.env.LLMSVC_TEST_MODELS_DIR ?? '../shared/models');
export const tinyModelId = 'llama-2-tiny-random';
export const tinyModelPath = path.join(testModelsDir, `${tinyModelId}.gguf`);

export function assertTinyModel(): void {
  if (!fs.existsSync(tinyModelPath)) {
    throw new Error(`The tiny test model is not at ${tinyModelPath}; point LLMSVC_TEST_MODELS_DIR at the folder that holds it.`);
  }
}

export function synthModelPath(preset: SynthPreset): string {
  return path.join(workDir, 'synth', preset, `synth-${preset}-q8_0.gguf`);
}

/** Generates a synthetic model (random weights, real shape) once; later runs reuse the file (the
 *  generator is deterministic). `log` reports the generation, which takes a while for `1b`. */
export async function ensureSynthModel(preset: SynthPreset, log: (message: string) => void = () => {}): Promise<string> {
  const file = synthModelPath(preset);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.partial`;
  log(`generating ${path.relative(projectRoot, file)} …`);
  await synthesizeModel({ outFile: partial, preset, quant: 'q8_0' });
  // Renamed only when complete, so an interrupted run never leaves a truncated model to reuse.
  fs.renameSync(partial, file);
  return file;
}

// ---------------------------------------------------------------------------------------------
// Numbers

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: readonly number[]): Summary {
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples: [...samples] };
}

/** The q-th percentile (0–100) by linear interpolation between the closest ranks. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q / 100) * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

export function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Child processes: every spawned child is tracked so that a failing benchmark still kills it.

const liveChildren = new Set<ChildProcess>();
/** Temporary data dirs of serve processes, removed by `cleanUp` if their owner could not. */
const liveTempDirs = new Set<string>();

function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  liveTempDirs.delete(dir);
}

/** Stops every child still running and removes their temp dirs: the benchmark's finally block. */
export async function cleanUp(): Promise<void> {
  await Promise.all([...liveChildren].map((child) => stopChild(child)));
  for (const dir of liveTempDirs) removeTempDir(dir);
}

/** A `[name] message` logger on stderr (stdout carries the results tables). */
export function benchLogger(name: string): (message: string) => void {
  return (message) => process.stderr.write(`[${name}] ${message}\n`);
}

/** Runs a benchmark's main function: children and temp dirs are cleaned up however it ends, and a
 *  failure is reported and sets a non-zero exit code. */
export async function runBenchmark(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (error) {
    process.stderr.write(`[${name}] failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  } finally {
    await cleanUp();
  }
}

// Last resort when the benchmark dies without reaching its finally block (an uncaught error).
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of liveTempDirs) removeTempDir(dir);
});
// Ctrl-C: stop the children cleanly (SIGTERM) before leaving.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Resident set size of a process in MB (10^6 bytes, as the targets are stated), from
 *  /proc/<pid>/status (Linux only; its "kB" are KiB). */
export function rssMB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return (Number(match[1]) * 1024) / 1e6;
}

/** CPU time (user + system, all threads) a process has used so far, in ms, from /proc/<pid>/stat.
 *  Its unit is USER_HZ, which Linux fixes at 100 per second for user space on every architecture. */
export function processCpuMs(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU time (user + system) of a process's children that have exited and that it waited for, in ms
 *  (cutime + cstime): e.g. the backends a postmaster has reaped. */
export function reapedChildrenCpuMs(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** The fields of /proc/<pid>/stat after the parenthesised command name (which may hold spaces): index
 *  0 is field 3 (state), so utime, stime, cutime, cstime (fields 14–17) are 11–14. */
function statFields(pid: number): string[] {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU ms this process (all its threads) used since `start` (a process.cpuUsage() reading). */
export function ownCpuMsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

/** Spawns `node <args>` (tracked) and resolves with the ms from spawn to exit. */
export async function timeNodeRun(args: string[]): Promise<number> {
  const started = performance.now();
  const child = track(spawn(process.execPath, args, { stdio: 'ignore' }));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`node ${args.join(' ')} exited with ${code}`))));
  });
  return performance.now() - started;
}

/** A long-lived `node` child (tracked), e.g. the idle process that is the RSS peer. */
export function spawnNode(args: string[]): ChildProcess {
  return track(spawn(process.execPath, args, { stdio: 'ignore' }));
}

/** Any other long-lived child (tracked, so `cleanUp` and Ctrl-C stop it), e.g. llama-server. */
export function spawnTracked(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return track(spawn(command, args, options));
}

/** A TCP port free on loopback right now (for servers that cannot be told `--port 0`). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// llmsvc serve

/** The admin key every `serve` started here gets (env LLMSVC_ADMIN_KEY): every route but /healthz and
 *  /readyz needs an API key. Random per benchmark run; never written anywhere. */
export const adminKey = `bench-${randomBytes(18).toString('base64url')}`;

export interface ServeOptions {
  modelsDir: string;
  threads?: number;
  extraArgs?: string[];
  /** Extra environment (e.g. LLMSVC_MAX_QUEUE), on top of this process's and the admin key. */
  env?: Record<string, string>;
  /** Flags for node itself, before the CLI (e.g. `--cpu-prof`, which NODE_OPTIONS does not allow). */
  nodeArgs?: string[];
}

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** The admin key it was started with: the SDK's `apiKey`, or `Authorization: Bearer <key>`. */
  apiKey: string;
  /** performance.now() just before spawn, and when the URL line arrived. */
  spawnedAt: number;
  listeningAt: number;
  /** The tail of the server's stderr (its logs), for error messages. */
  stderrTail(): string;
  /** SIGTERM (then SIGKILL), and removes the temporary data dir. */
  stop(): Promise<void>;
}

/** Keeps a child's stderr: its size and its last 4,000 characters (for errors). */
export function drain(child: ChildProcess): { bytes: () => number; tail: () => string } {
  let bytes = 0;
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    tail = (tail + String(chunk)).slice(-4_000);
  });
  return { bytes: () => bytes, tail: () => tail };
}

/** The first stdout line of `child` matching `pattern`; rejects with the stderr tail when it exits or times out. */
export function waitForLine(child: ChildProcess, pattern: RegExp, what: string, tail: () => string, timeoutMs = 90_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} printed no ready line within ${timeoutMs} ms:\n${tail()}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code} before it was ready:\n${tail()}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = pattern.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve(match);
    });
  });
}

export function assertBuilt(): void {
  if (!fs.existsSync(cliPath)) throw new Error(`${path.relative(projectRoot, cliPath)} is missing: build first with \`npx tsc -p tsconfig.json\``);
}

/** Starts `llmsvc serve --port 0` with a fresh data dir and resolves when it prints
 *  `llmsvc listening on <url>`. */
export async function startServe(options: ServeOptions): Promise<ServeProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-bench-'));
  liveTempDirs.add(dataDir);
  const args = [cliPath, 'serve', '--port', '0', '--data-dir', dataDir, '--models-dir', options.modelsDir, '--threads', String(options.threads ?? 1)];
  const spawnedAt = performance.now();
  // The response cache stays off: benchmarks repeat deterministic requests to measure the model.
  const env = { LLMSVC_CACHE: 'false', ...process.env, ...options.env, LLMSVC_ADMIN_KEY: adminKey };
  const child = track(spawn(process.execPath, [...(options.nodeArgs ?? []), ...args, ...(options.extraArgs ?? [])], { stdio: ['ignore', 'pipe', 'pipe'], env }));
  // The logs must be drained or the child blocks once the pipe is full; keep only the tail.
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-20_000)));
  const stop = async () => {
    await stopChild(child);
    removeTempDir(dataDir);
  };
  try {
    const url = await waitForUrlLine(child, () => stderr);
    return { child, pid: child.pid!, url, apiKey: adminKey, spawnedAt, listeningAt: performance.now(), stderrTail: () => stderr, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForUrlLine(child: ChildProcess, stderr: () => string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL within ${timeoutMs} ms; stderr:\n${stderr()}`)), timeoutMs);
    child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening; stderr:\n${stderr()}`)));
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^llmsvc listening on (http:\/\/\S+)$/.exec(line);
      if (!match) return;
      clearTimeout(timer);
      resolve(match[1]!);
    });
  });
}

/** Polls GET /readyz until it answers 200; resolves with performance.now() at that answer. Not faster
 *  than every 20 ms: on 2 cores the polling would itself slow the start-up it measures. */
export async function waitReady(url: string, timeoutMs = 30_000, intervalMs = 20): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const response = await fetch(`${url}/readyz`).catch(() => undefined);
    if (response) await response.arrayBuffer();
    if (response?.status === 200) return performance.now();
    await sleep(intervalMs);
  }
  throw new Error(`${url}/readyz did not answer 200 within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------------------------------------
// Reporting

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  nodeLlamaCpp: string;
  os: string;
}

export function machineInfo(): MachineInfo {
  // Read from the file: the package's "exports" do not expose its package.json.
  const nlcPackage = JSON.parse(fs.readFileSync(path.join(projectRoot, 'node_modules/node-llama-cpp/package.json'), 'utf8')) as { version: string };
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    nodeLlamaCpp: nlcPackage.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
  };
}

export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** The same table for a terminal: columns padded, no markdown escapes. */
export function textTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows].map((cells) => cells.map((cell) => cell.replaceAll('\\|', '|')));
  const widths = header.map((_, i) => Math.max(...all.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ');
  return [line(all[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...all.slice(1).map(line)].join('\n');
}

const resultsIntro = `# Benchmark results

Written by the benchmarks in this folder (see README.md); each run replaces its own section.

This machine is small (2 cores) and shared, so absolute numbers move from run to run. Every
figure is therefore paired with a **peer measured in the same run** (node-llama-cpp called
directly, a bare \`node\` process, …), with runs alternated so that noise hits both sides, and
the **ratio** to that peer is the figure to read. Targets are checked and reported as met or not
met; nothing here fails a build.
`;

/** Writes `section` (which starts with its `## <headingPrefix>…` heading) into RESULTS.md, in place
 *  of the section with the same heading prefix if there is one, else at the end. */
export function writeResultsSection(headingPrefix: string, section: string, file = resultsFile): void {
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : resultsIntro;
  const lines = existing.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`## ${headingPrefix}`));
  const body = section.trimEnd().split('\n');
  if (start < 0) {
    const text = `${existing.trimEnd()}\n\n${body.join('\n')}\n`;
    fs.writeFileSync(file, text);
    return;
  }
  let end = lines.findIndex((line, i) => i > start && line.startsWith('## '));
  if (end < 0) end = lines.length;
  const next = [...lines.slice(0, start), ...body, ...(end < lines.length ? ['', ...lines.slice(end)] : [])];
  fs.writeFileSync(file, `${next.join('\n').trimEnd()}\n`);
}

/** RSS of a node process that does nothing, read `settleMs` after it started: the peer of idle RSS. */
export async function bareNodeRss(settleMs: number): Promise<number> {
  const child = spawnNode(['-e', 'setTimeout(() => {}, 1e9)']);
  try {
    await sleep(settleMs);
    return rssMB(child.pid!);
  } finally {
    await stopChild(child);
  }
}
