// npm run build:fast-addon — builds llmsvc's optional fast addon (see core/runtimes/llama/fastAddon.ts)
// into .cache/fast-addon (or $LLMSVC_FAST_ADDON_DIR).
//
// What it compiles: node-llama-cpp's own addon sources (node_modules/node-llama-cpp/llama/addon),
// with llmsvc's additions (scripts/fast-addon/) declared and registered by a few exact insertions
// below, and links them against the prebuilt llama.cpp shared libraries npm installed
// (@node-llama-cpp/linux-x64). llama.cpp itself is not compiled: its headers come from the git
// bundle node-llama-cpp ships (llama/gitRelease.bundle, the same release as the prebuilt binaries).
// Needs g++ and git; about twenty files, so the compiler is called directly rather than via cmake.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import {
  buildInfoFile,
  defaultFastAddonDir,
  fastAddonFile,
  fastAddonNodeLlamaCppVersion,
  findPrebuiltBinaries,
  fingerprintLibraries,
  linkedLibraries,
  type FastAddonBuildInfo,
} from '../core/runtimes/llama/fastAddon.js';
import { nodeLlamaCppRoot } from '../core/runtimes/llama/nodeLlamaCppPackage.js';

const additionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fast-addon');

/** The insertions that declare and register the additions in the stock sources: each anchor must
 *  occur exactly once, or the build stops (the sources are not the ones this was written for). */
const insertions: { file: string; anchor: string; insert: string }[] = [
  {
    file: 'AddonContext.h',
    anchor: '        Napi::Value GetEmbedding(const Napi::CallbackInfo& info);\n',
    insert:
      '        Napi::Value GetSequenceEmbedding(const Napi::CallbackInfo& info); // llmsvc\n' +
      '        Napi::Value SampleTokenSync(const Napi::CallbackInfo& info); // llmsvc\n',
  },
  {
    file: 'AddonContext.cpp',
    anchor: '                InstanceMethod("getEmbedding", &AddonContext::GetEmbedding),\n',
    insert:
      '                InstanceMethod("getSequenceEmbedding", &AddonContext::GetSequenceEmbedding), // llmsvc\n' +
      '                InstanceMethod("sampleTokenSync", &AddonContext::SampleTokenSync), // llmsvc\n',
  },
  {
    file: 'addon.cpp',
    anchor: '        Napi::PropertyDescriptor::Function("dispose", addonDispose),\n',
    insert: '        Napi::PropertyDescriptor::Function("llmsvcFastAddonInfo", llmsvcFastAddonInfo), // llmsvc\n',
  },
  { file: 'addon.cpp', anchor: '#include "addonGlobals.h"\n', insert: '#include "llmsvcFastAddon.h" // llmsvc\n' },
];

function fail(message: string): never {
  console.error(`build:fast-addon: ${message}`);
  process.exit(1);
}

function run(command: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.at(-1)} exited with ${code}`))));
  });
}

/** Runs the commands at most `parallel` at a time. */
async function runAll(jobs: (() => Promise<void>)[], parallel: number): Promise<void> {
  const queue = [...jobs];
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  }));
}

function hasCommand(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The llama.cpp headers of the prebuilt release: a checkout of node-llama-cpp's git bundle. */
function llamaCppSources(outDir: string, nlcRoot: string, release: string): string {
  const info = JSON.parse(fs.readFileSync(path.join(nlcRoot, 'llama', 'llama.cpp.info.json'), 'utf8')) as { tag: string };
  if (info.tag !== release) fail(`node-llama-cpp's llama.cpp sources are ${info.tag}, its prebuilt binaries ${release}`);
  const dir = path.join(outDir, 'llama.cpp');
  const stamp = path.join(dir, '.llmsvc-release');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === release) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`build:fast-addon: checking out llama.cpp ${release} headers from node-llama-cpp's git bundle`);
  execFileSync('git', ['-c', 'advice.detachedHead=false', 'clone', '--quiet', path.join(nlcRoot, 'llama', 'gitRelease.bundle'), dir], { stdio: 'inherit' });
  fs.writeFileSync(stamp, release);
  return dir;
}

/** The stock addon sources with llmsvc's additions, in a fresh folder. */
function addonSources(outDir: string, nlcRoot: string): string {
  const dir = path.join(outDir, 'src');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.cpSync(path.join(nlcRoot, 'llama', 'addon'), dir, { recursive: true });
  for (const { file, anchor, insert } of insertions) {
    const target = path.join(dir, file);
    const text = fs.readFileSync(target, 'utf8');
    const at = text.indexOf(anchor);
    if (at < 0 || text.indexOf(anchor, at + 1) >= 0) fail(`${file} of node-llama-cpp's addon does not hold the expected line once: ${JSON.stringify(anchor)}`);
    fs.writeFileSync(target, text.slice(0, at + anchor.length) + insert + text.slice(at + anchor.length));
  }
  for (const file of fs.readdirSync(additionsDir)) fs.copyFileSync(path.join(additionsDir, file), path.join(dir, file));
  return dir;
}

function nodeApiIncludes(nlcRoot: string): string[] {
  const nlcRequire = createRequire(path.join(nlcRoot, 'package.json'));
  const addonApi = path.dirname(nlcRequire.resolve('node-addon-api'));
  // node_api.h: node-api-headers (a dependency of node-llama-cpp's cmake-js), else the headers of this Node.js.
  let nodeApi = path.join(path.dirname(process.execPath), '..', 'include', 'node');
  try {
    const cmakeJs = path.dirname(nlcRequire.resolve('cmake-js/package.json'));
    nodeApi = path.join(path.dirname(createRequire(path.join(cmakeJs, 'package.json')).resolve('node-api-headers/package.json')), 'include');
  } catch {
    // keep this Node.js's headers
  }
  if (!fs.existsSync(path.join(nodeApi, 'node_api.h'))) fail(`node_api.h not found (looked in ${nodeApi})`);
  return [addonApi, nodeApi];
}

async function main(): Promise<void> {
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the fast addon links against the linux-x64 prebuilt binaries; this is ${process.platform}-${process.arch}`);
  for (const command of ['g++', 'git']) if (!hasCommand(command)) fail(`${command} is needed (Debian/Ubuntu: apt-get install g++ git)`);

  const nlcRoot = nodeLlamaCppRoot();
  const version = (JSON.parse(fs.readFileSync(path.join(nlcRoot, 'package.json'), 'utf8')) as { version: string }).version;
  if (version !== fastAddonNodeLlamaCppVersion) fail(`node-llama-cpp ${version} is installed; the additions are written for ${fastAddonNodeLlamaCppVersion}`);
  const prebuilt = findPrebuiltBinaries();
  const outDir = path.resolve(process.env.LLMSVC_FAST_ADDON_DIR || defaultFastAddonDir() || fail('llmsvc package.json not found: set LLMSVC_FAST_ADDON_DIR'));
  fs.mkdirSync(outDir, { recursive: true });
  // Whatever was there is not valid until the new build is complete.
  fs.rmSync(path.join(outDir, buildInfoFile), { force: true });

  const llamaCpp = llamaCppSources(outDir, nlcRoot, prebuilt.llamaCppRelease);
  const src = addonSources(outDir, nlcRoot);
  const objDir = path.join(outDir, 'obj');
  fs.rmSync(objDir, { recursive: true, force: true });
  fs.mkdirSync(objDir);

  const includes = [...nodeApiIncludes(nlcRoot), src, llamaCpp, ...['include', 'common', 'src', 'ggml/include', 'vendor'].map((sub) => path.join(llamaCpp, sub))];
  const flags = [
    '-std=c++17', '-O2', '-fPIC', '-fexceptions', '-DNDEBUG', '-DNAPI_VERSION=7', '-DLLAMA_SHARED', '-DGGML_SHARED',
    `-DLLMSVC_NODE_LLAMA_CPP_VERSION="${version}"`, `-DLLMSVC_LLAMA_CPP_RELEASE="${prebuilt.llamaCppRelease}"`,
    ...includes.map((dir) => `-I${dir}`),
  ];
  const sources = [
    ...fs.readdirSync(src).filter((file) => file.endsWith('.cpp')).map((file) => path.join(src, file)),
    ...fs.readdirSync(path.join(src, 'globals')).filter((file) => file.endsWith('.cpp')).map((file) => path.join(src, 'globals', file)),
  ];
  const objects = sources.map((source) => path.join(objDir, path.relative(src, source).replaceAll('/', '_').replace(/\.cpp$/, '.o')));
  const started = Date.now();
  console.log(`build:fast-addon: compiling ${sources.length} addon sources against llama.cpp ${prebuilt.llamaCppRelease} (prebuilt: ${prebuilt.dir})`);
  await runAll(sources.map((source, i) => () => run('g++', [...flags, '-c', '-o', objects[i]!, source])), Math.max(1, os.availableParallelism()));

  // The addon finds the libraries (and node-llama-cpp finds the CPU backends, next to the addon)
  // through links to the prebuilt files, so the build follows them without copying 30 MB.
  for (const file of fs.readdirSync(prebuilt.dir).filter((name) => name.endsWith('.so'))) {
    const link = path.join(outDir, file);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(path.join(prebuilt.dir, file), link);
  }
  const output = path.join(outDir, fastAddonFile);
  await run('g++', ['-shared', '-o', `${output}.tmp`, ...objects, `-L${prebuilt.dir}`, ...linkedLibraries.map((name) => `-l:${name}`), '-Wl,-rpath,$ORIGIN']);
  fs.renameSync(`${output}.tmp`, output);

  const info: FastAddonBuildInfo = {
    nodeLlamaCpp: version,
    llamaCppRelease: prebuilt.llamaCppRelease,
    libraries: fingerprintLibraries(prebuilt.dir),
    additions: ['getSequenceEmbedding', 'sampleTokenSync'],
  };
  fs.writeFileSync(path.join(outDir, buildInfoFile), JSON.stringify(info, null, 2) + '\n');
  console.log(`build:fast-addon: built ${output} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

await main();
