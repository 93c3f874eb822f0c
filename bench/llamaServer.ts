// llama-server at the llama.cpp release node-llama-cpp ships: cloned from the git bundle in
// node_modules/node-llama-cpp/llama/, built once into bench/.work/llama.cpp (git-ignored) and
// reused, then started as a tracked child on loopback. The peer of llmsvc's HTTP serving.
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, projectRoot, sleep, spawnTracked, stopChild, workDir } from './support.js';

const nlcLlamaDir = path.join(projectRoot, 'node_modules/node-llama-cpp/llama');
const bundlePath = path.join(nlcLlamaDir, 'gitRelease.bundle');
export const llamaCppDir = path.join(workDir, 'llama.cpp');
const buildDir = path.join(llamaCppDir, 'build');
export const llamaServerBin = path.join(buildDir, 'bin/llama-server');
const stampFile = path.join(llamaCppDir, '.bench-build.json');
const buildLog = path.join(workDir, 'llama-build.log');

/** As node-llama-cpp's own prebuilt CPU binaries are configured where it matters for speed: no
 *  OpenMP (ggml's own thread pool), flash attention left at `auto` (the default of both). NATIVE
 *  instead of the prebuilt per-CPU variants: on this machine both pick the same AVX2/FMA/F16C
 *  kernels. Only the server: no tests, examples, web UI (it would be downloaded), curl or TLS. */
export const cmakeArgs = [
  '-DCMAKE_BUILD_TYPE=Release',
  '-DGGML_NATIVE=ON',
  '-DGGML_OPENMP=OFF',
  '-DLLAMA_CURL=OFF',
  '-DLLAMA_OPENSSL=OFF',
  '-DLLAMA_BUILD_TESTS=OFF',
  '-DLLAMA_BUILD_EXAMPLES=OFF',
  '-DLLAMA_BUILD_TOOLS=ON',
  '-DLLAMA_BUILD_SERVER=ON',
  '-DLLAMA_BUILD_APP=OFF',
  '-DLLAMA_BUILD_UI=OFF',
  '-DLLAMA_USE_PREBUILT_UI=OFF',
  '-DBUILD_SHARED_LIBS=OFF',
];

export interface LlamaServerBuild {
  /** The binary, or undefined when it could not be built (`error` says why). */
  bin?: string;
  error?: string;
  /** The llama.cpp release tag node-llama-cpp names and the commit of its bundle. */
  release: string;
  commit: string;
  /** Patches of node-llama-cpp applied to the source, as it applies them when it builds. */
  patches: string[];
  /** Seconds the build took in this run; 0 when a previous build was reused. */
  buildSeconds: number;
}

interface Stamp {
  commit: string;
  cmakeArgs: string[];
  patches: string[];
}

function run(command: string, args: string[], cwd: string, logTo?: string): { ok: boolean; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  if (logTo) fs.appendFileSync(logTo, `$ ${command} ${args.join(' ')}\n${output}\n`);
  return { ok: result.status === 0, output };
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Clones the bundle and builds `llama-server` unless a build of the same commit and flags is there. */
export function ensureLlamaServer(log: (message: string) => void): LlamaServerBuild {
  const info = JSON.parse(fs.readFileSync(path.join(nlcLlamaDir, 'llama.cpp.info.json'), 'utf8')) as { tag: string };
  const heads = run('git', ['bundle', 'list-heads', bundlePath], projectRoot);
  const commit = /^([0-9a-f]{40}) HEAD$/m.exec(heads.output)?.[1] ?? 'unknown';
  const patchDir = path.join(nlcLlamaDir, 'patches');
  const patchFiles = fs.existsSync(patchDir) ? fs.readdirSync(patchDir).filter((file) => file.endsWith('.diff')).sort() : [];
  const result: LlamaServerBuild = { release: info.tag, commit, patches: [], buildSeconds: 0 };
  if (!heads.ok) return { ...result, error: `\`git bundle list-heads\` failed on ${path.relative(projectRoot, bundlePath)}: ${tail(heads.output, 3)}` };

  const stamp = fs.existsSync(stampFile) ? (JSON.parse(fs.readFileSync(stampFile, 'utf8')) as Stamp) : undefined;
  if (stamp && fs.existsSync(llamaServerBin) && stamp.commit === commit && JSON.stringify(stamp.cmakeArgs) === JSON.stringify(cmakeArgs)) {
    return { ...result, bin: llamaServerBin, patches: stamp.patches };
  }

  const started = performance.now();
  fs.mkdirSync(workDir, { recursive: true });
  fs.writeFileSync(buildLog, `llama-server build, ${new Date().toISOString()}\n`);
  const head = fs.existsSync(path.join(llamaCppDir, '.git')) ? run('git', ['rev-parse', 'HEAD'], llamaCppDir).output.trim() : undefined;
  if (head !== commit) {
    fs.rmSync(llamaCppDir, { recursive: true, force: true });
    log(`cloning llama.cpp ${info.tag} (${commit.slice(0, 7)}) from node-llama-cpp's git bundle …`);
    const clone = run('git', ['clone', '--quiet', bundlePath, llamaCppDir], projectRoot, buildLog);
    if (!clone.ok) return { ...result, error: `git clone of the bundle failed: ${tail(clone.output, 5)}` };
  }
  // node-llama-cpp applies its patches when it builds from this source; the same here (a patch
  // already applied, or no longer needed, is skipped).
  const patches: string[] = [];
  for (const file of patchFiles) {
    const patch = path.join(patchDir, file);
    if (run('git', ['apply', '--check', patch], llamaCppDir).ok) {
      if (!run('git', ['apply', patch], llamaCppDir, buildLog).ok) return { ...result, error: `git apply ${file} failed; see ${path.relative(projectRoot, buildLog)}` };
      patches.push(file);
    } else if (run('git', ['apply', '--check', '--reverse', patch], llamaCppDir).ok) {
      patches.push(file); // applied by an earlier run
    }
  }
  log(`building llama-server (cmake, -j ${os.availableParallelism()}); log in ${path.relative(projectRoot, buildLog)}. This takes ~15 minutes on 2 cores, once.`);
  const configure = run('cmake', ['-B', buildDir, ...cmakeArgs], llamaCppDir, buildLog);
  if (!configure.ok) return { ...result, patches, error: `cmake configure failed:\n${tail(configure.output)}` };
  const build = run('cmake', ['--build', buildDir, '--target', 'llama-server', '-j', String(os.availableParallelism())], llamaCppDir, buildLog);
  if (!build.ok || !fs.existsSync(llamaServerBin)) return { ...result, patches, error: `cmake --build --target llama-server failed:\n${tail(build.output)}` };
  fs.writeFileSync(stampFile, `${JSON.stringify({ commit, cmakeArgs, patches } satisfies Stamp, null, 2)}\n`);
  return { ...result, bin: llamaServerBin, patches, buildSeconds: (performance.now() - started) / 1000 };
}

export interface LlamaServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  args: string[];
  stderrTail(): string;
  stop(): Promise<void>;
}

/** Starts llama-server on a free loopback port and resolves once GET /health answers 200 (the
 *  model is loaded). `args` come after the model, host and port. */
export async function startLlamaServer(bin: string, modelPath: string, args: string[], timeoutMs = 120_000): Promise<LlamaServerProcess> {
  const port = await freePort();
  const allArgs = ['-m', modelPath, '--host', '127.0.0.1', '--port', String(port), ...args];
  const child = spawnTracked(bin, allArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  // Drained, or the server blocks once a pipe is full; only the tail is kept.
  const keep = (chunk: Buffer) => (logs = (logs + String(chunk)).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const proc: LlamaServerProcess = { child, pid: child.pid!, url, args: allArgs, stderrTail: () => logs, stop: () => stopChild(child) };
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`llama-server exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(logs)}`);
    const response = await fetch(`${url}/health`).catch(() => undefined);
    if (response) await response.arrayBuffer();
    if (response?.status === 200) return proc;
    await sleep(100);
  }
  await proc.stop();
  throw new Error(`llama-server was not ready within ${timeoutMs} ms:\n${tail(logs)}`);
}
