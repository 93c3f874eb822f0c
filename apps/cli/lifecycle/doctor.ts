import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { adminKeyFile } from '../../../core/auth/keyService.js';
import { loadConfig, type Config } from '../../../core/config/index.js';
import { Database } from '../../../core/store/sqlite.js';
import { migrations } from '../../../core/store/migrations.js';
import { runtimeModule } from '../../../core/providers/llama/worker/runtimeModule.js';
import { bundleUnusableReason } from '../../../core/startupBundle.js';
import { verifyFiles } from './checksum.js';
import { listLocalModels, summarizeGguf } from './modelInfo.js';
import { modelsManifestName, readModelsManifest } from './modelManifest.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  /** What was found and, unless ok, what to do about it. */
  message: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: Check[];
}

export interface DoctorOptions {
  config?: string;
  dataDir?: string;
  modelsDir?: string;
  port?: string;
  host?: string;
}

const minimumNodeMajor = 20;

const ok = (name: string, message: string): Check => ({ name, status: 'ok', message });
const warn = (name: string, message: string): Check => ({ name, status: 'warn', message });
const fail = (name: string, message: string): Check => ({ name, status: 'fail', message });
const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

function nodeVersion(): Check {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < minimumNodeMajor) return fail('node', `Node.js ${process.versions.node} is too old: install Node.js ${minimumNodeMajor} or newer (the offline bundle carries one).`);
  return ok('node', `Node.js ${process.versions.node} (${process.platform}-${process.arch})`);
}

/** Each native module loads: a missing prebuilt binary shows here rather than at the first request. */
async function nativeModules(): Promise<Check[]> {
  const require = createRequire(import.meta.url);
  const checks: Check[] = [];
  const attempt = async (name: string, load: () => unknown | Promise<unknown>) => {
    try {
      await load();
      checks.push(ok(`module:${name}`, `${name} loads`));
    } catch (error) {
      checks.push(fail(`module:${name}`, `${name} does not load (${(error as Error).message.split('\n')[0]}): reinstall llmsvc from a bundle built for ${process.platform}-${process.arch} and Node.js ${process.versions.node.split('.')[0]}.`));
    }
  };
  await attempt('better-sqlite3', () => new Database(':memory:').close());
  await attempt('sqlite-vec', async () => {
    const sqliteVec = await import('sqlite-vec');
    const db = new Database(':memory:');
    try {
      sqliteVec.load(db);
      db.prepare('select vec_version()').get();
    } finally {
      db.close();
    }
  });
  await attempt('node-llama-cpp', () => import('node-llama-cpp'));
  await attempt('onnxruntime-node', () => require('onnxruntime-node'));
  return checks;
}

/** llama.cpp's backend and GPU memory; prebuilt binaries only (never build, never download). */
async function llamaBackend(config: Config): Promise<{ check: Check; vramFree?: number }> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: config.gpu === true ? 'auto' : config.gpu, build: 'never', logLevel: LlamaLogLevel.error, progressLogs: false });
    try {
      const backend = llama.gpu === false ? 'cpu' : llama.gpu;
      if (backend === 'cpu') {
        const note = config.gpu === false ? 'the config turns the GPU off' : 'no GPU found: generation runs on the CPU (install the CUDA or Vulkan driver if this machine has a GPU)';
        return { check: ok('llama-backend', `llama.cpp backend cpu; ${note}`) };
      }
      const vram = await llama.getVramState();
      return { check: ok('llama-backend', `llama.cpp backend ${backend}; GPU memory ${gib(vram.free)} free of ${gib(vram.total)}`), vramFree: vram.free };
    } finally {
      await llama.dispose();
    }
  } catch (error) {
    return { check: fail('llama-backend', `llama.cpp did not start (${(error as Error).message.split('\n')[0]}): reinstall llmsvc from a bundle for this platform.`) };
  }
}

function memoryAndDisk(config: Config, modelBytes: number): Check[] {
  const largest = modelBytes;
  const free = os.freemem();
  const checks: Check[] = [];
  checks.push(
    free < largest * 1.2
      ? warn('memory', `${gib(free)} of RAM free, the largest model is ${gib(largest)}: close other programs or use a smaller quantization.`)
      : ok('memory', `${gib(free)} of RAM free of ${gib(os.totalmem())}`),
  );
  const dir = fs.existsSync(config.data_dir) ? config.data_dir : path.dirname(config.data_dir);
  try {
    const stat = fs.statfsSync(dir);
    const freeDisk = stat.bavail * stat.bsize;
    checks.push(
      freeDisk < 1 * 2 ** 30
        ? warn('disk', `${gib(freeDisk)} free under ${dir}: the database, backups and new models need room; free some space.`)
        : ok('disk', `${gib(freeDisk)} free under ${dir}`),
    );
  } catch (error) {
    checks.push(warn('disk', `Cannot read the free space under ${dir}: ${(error as Error).message}`));
  }
  return checks;
}

function permissions(config: Config): Check[] {
  const checks: Check[] = [];
  const stat = fs.statSync(config.data_dir, { throwIfNoEntry: false });
  if (!stat) {
    checks.push(warn('data-dir', `${config.data_dir} does not exist yet: 'llmsvc serve' creates it on first start.`));
    return checks;
  }
  if (!stat.isDirectory()) {
    checks.push(fail('data-dir', `${config.data_dir} is not a directory: point --data-dir at a directory.`));
    return checks;
  }
  try {
    fs.accessSync(config.data_dir, fs.constants.W_OK | fs.constants.R_OK);
    checks.push(
      (stat.mode & 0o077) !== 0
        ? warn('data-dir', `${config.data_dir} is readable by other users (mode ${(stat.mode & 0o777).toString(8)}): run 'chmod 700 ${config.data_dir}'.`)
        : ok('data-dir', `${config.data_dir} is private (mode 700) and writable`),
    );
  } catch {
    checks.push(fail('data-dir', `${config.data_dir} is not readable and writable by this user: run llmsvc as the data dir's owner, or fix its owner.`));
  }
  const keyFile = adminKeyFile(config.data_dir);
  const key = fs.statSync(keyFile, { throwIfNoEntry: false });
  if (key) {
    checks.push(
      (key.mode & 0o077) !== 0
        ? fail('admin-key', `${keyFile} is readable by other users (mode ${(key.mode & 0o777).toString(8)}): run 'chmod 600 ${keyFile}'.`)
        : ok('admin-key', `${keyFile} is readable only by its owner`),
    );
  }
  return checks;
}

/** The port: free, or held by a llmsvc that answers /healthz. */
async function port(config: Config): Promise<Check> {
  if (config.port === 0) return ok('port', 'port 0: the server picks a free port');
  const free = await new Promise<boolean>((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(config.port, config.host, () => server.close(() => resolve(true)));
  });
  if (free) return ok('port', `${config.host}:${config.port} is free`);
  try {
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const response = await fetch(`http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${config.port}/healthz`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { status?: string };
    if (response.ok && body.status === 'ok') return ok('port', `${config.host}:${config.port} is in use by a running llmsvc`);
  } catch {
    // not llmsvc (or not HTTP): fall through
  }
  return fail('port', `${config.host}:${config.port} is in use by another program: stop it, or choose another port with --port or LLMSVC_PORT.`);
}

async function models(config: Config): Promise<{ checks: Check[]; largest: number }> {
  const checks: Check[] = [];
  let largest = 0;
  let found;
  try {
    found = listLocalModels(config.models_dir);
  } catch (error) {
    return { checks: [fail('models', `Cannot read ${config.models_dir}: ${(error as Error).message}. Fix its permissions.`)], largest };
  }
  if (found.length === 0) checks.push(warn('models', `No model in ${config.models_dir}: copy a .gguf file there or run 'llmsvc models import DIR'.`));
  for (const model of found) {
    if (model.kind === 'onnx') {
      checks.push(ok(`model:${model.id}`, `ONNX model dir with ${model.files.length} files`));
      continue;
    }
    try {
      const size = fs.statSync(model.path).size;
      largest = Math.max(largest, size);
      const summary = await summarizeGguf(model.path);
      checks.push(ok(`model:${model.id}`, `GGUF ${summary.architecture}, ${summary.quantization}, ${gib(size)}`));
    } catch (error) {
      checks.push(fail(`model:${model.id}`, `${model.path} is not a readable GGUF file (${(error as Error).message.split('\n')[0]}): replace it with a good copy ('llmsvc models import').`));
    }
  }
  const manifest = readModelsManifest(config.models_dir);
  if (manifest) {
    const present = manifest.files.filter((file) => fs.existsSync(path.join(config.models_dir, file.path)));
    const problems = await verifyFiles(config.models_dir, present);
    checks.push(
      problems.length > 0
        ? fail('model-checksums', `Models differ from ${modelsManifestName}: ${problems.join('; ')}. Import them again from the export.`)
        : ok('model-checksums', `${present.length} model files match ${modelsManifestName}`),
    );
  }
  return { checks, largest };
}

function database(config: Config): Check {
  const file = path.join(config.data_dir, 'llmsvc.sqlite');
  if (!fs.existsSync(file)) return warn('database', `No database at ${file} yet: 'llmsvc serve' creates it.`);
  let db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const result = db.pragma('integrity_check') as { integrity_check: string }[];
    const version = db.pragma('user_version', { simple: true }) as number;
    const latest = migrations.at(-1)?.version ?? 0;
    if (result.length !== 1 || result[0]!.integrity_check !== 'ok') {
      return fail('database', `${file} is damaged (${result.map((row) => row.integrity_check).slice(0, 3).join('; ')}): stop llmsvc and restore the last backup ('llmsvc restore').`);
    }
    if (version > latest) return fail('database', `${file} has schema version ${version}, newer than this llmsvc (${latest}): install the llmsvc that wrote it.`);
    return ok('database', `${file}: integrity ok, schema version ${version}${version < latest ? ` (serve migrates it to ${latest})` : ''}`);
  } catch (error) {
    return fail('database', `${file} cannot be read as SQLite (${(error as Error).message}): stop llmsvc and restore the last backup ('llmsvc restore').`);
  } finally {
    db?.close();
  }
}

/** The clock: keys expire and usage is counted by day, so a clock stuck in the past shows here. */
function clock(dataDir: string): Check {
  const now = Date.now();
  const year = new Date(now).getUTCFullYear();
  if (year < 2024) return fail('clock', `The system clock says ${new Date(now).toISOString()}: set the date (timedatectl set-time) — key expiry and daily quotas depend on it.`);
  const database = path.join(dataDir, 'llmsvc.sqlite');
  const stat = fs.statSync(database, { throwIfNoEntry: false });
  if (stat && stat.mtimeMs > now + 5 * 60_000) {
    return warn('clock', `The database was written at ${stat.mtime.toISOString()}, after now (${new Date(now).toISOString()}): check the system clock.`);
  }
  return ok('clock', new Date(now).toISOString());
}

/** Whether the CLI and the runtime thread start from the bundles `npm run build` makes (without
 *  them start-up is slower, not wrong). */
function startupBundles(): Check {
  if (import.meta.url.endsWith('.ts')) return ok('startup-bundles', 'running from the sources: modules load one by one');
  const cli = process.env.LLMSVC_CLI_BUNDLE === '0' ? 'LLMSVC_CLI_BUNDLE=0' : bundleUnusableReason(new URL('../../../cli-bundle/', import.meta.url));
  const runtime = runtimeModule(new URL('../../../core/providers/llama/worker/client.js', import.meta.url).href);
  const unbundled = [cli && `the CLI (${cli})`, !runtime.bundled && `the runtime thread (${runtime.reason})`].filter(Boolean);
  if (unbundled.length === 0) return ok('startup-bundles', `the CLI and the runtime thread start from their bundles (${runtime.reason})`);
  return warn(
    'startup-bundles',
    `Start-up loads modules one by one for ${unbundled.join(' and ')}: it works, only slower to start. Run 'npm run build' in llmsvc's folder, or reinstall llmsvc.`,
  );
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const checks: Check[] = [nodeVersion()];
  let config: Config;
  try {
    config = loadConfig({ file: options.config, flags: { data_dir: options.dataDir, models_dir: options.modelsDir, port: options.port, host: options.host } });
    checks.push(ok('config', options.config ? `${options.config} is valid` : 'settings are valid'));
  } catch (error) {
    checks.push(fail('config', `${(error as Error).message}. Fix the config file or the LLMSVC_* variables.`));
    return { ok: false, checks };
  }
  checks.push(...(await nativeModules()));
  checks.push(startupBundles());
  const backend = await llamaBackend(config);
  checks.push(backend.check);
  const modelChecks = await models(config);
  checks.push(...memoryAndDisk(config, modelChecks.largest));
  checks.push(...permissions(config));
  checks.push(await port(config));
  checks.push(...modelChecks.checks);
  checks.push(database(config));
  checks.push(clock(config.data_dir));
  return { ok: checks.every((check) => check.status !== 'fail'), checks };
}
