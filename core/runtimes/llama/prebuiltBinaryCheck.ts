// node-llama-cpp's getLlama tests a prebuilt binary in a child process before every load on Linux
// (a second node process that loads the addon: ~450 ms on 2 cores, most of llmsvc's start-up).
// The test can only come out differently when the binary or the system under it changed, so llmsvc
// remembers a pass, keyed by everything the test depends on, and on later starts loads the same
// CPU binary the way getLlama does after its test (createCpuLlama). Anything different — another
// node-llama-cpp, node ABI, glibc, kernel, CPU, or any file of the binaries — and getLlama runs as
// before, its test included.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getModuleVersion, type Llama, type LlamaLogLevel } from 'node-llama-cpp';
import { createCpuLlama, loadBindingModule, type LlamaLogger } from './createLlama.js';
import { findPrebuiltBinaries } from './fastAddon.js';
import { nodeLlamaCppRoot } from './nodeLlamaCppPackage.js';

interface PassRecord {
  fingerprint: string;
  bindingPath: string;
  passedAt: string;
}

/** The CPU prebuilt addon getLlama loads on linux-x64 (the only platform this shortcut covers). */
function prebuiltCpuBinding(): { dir: string; bindingPath: string } | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  const { dir } = findPrebuiltBinaries();
  return { dir, bindingPath: path.join(dir, 'llama-addon.node') };
}

function listing(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** /proc/cpuinfo's first model name and flags: the instructions the binary may use. */
function cpuIdentity(): string {
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    return [/^model name\s*:.*$/m.exec(info)?.[0], /^flags\s*:.*$/m.exec(info)?.[0]].join('\n');
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

/** A digest of everything node-llama-cpp's binary test depends on. */
async function fingerprintOf(dir: string): Promise<string> {
  const report = process.report.getReport() as unknown as { header?: { glibcVersionRuntime?: string } };
  const root = nodeLlamaCppRoot();
  const parts = {
    nodeLlamaCpp: await getModuleVersion(),
    node: process.versions.node,
    modules: process.versions.modules,
    glibc: report.header?.glibcVersionRuntime ?? null,
    kernel: os.release(),
    cpu: cpuIdentity(),
    // What getLlama would prefer over the package's binaries: a local build, or binaries in its own bins/.
    localBuilds: listing(path.join(root, 'llama', 'localBuilds')),
    ownBins: listing(path.join(root, 'bins')),
    files: listing(dir).map((name) => {
      const stat = fs.statSync(path.join(dir, name));
      return [name, stat.size, stat.mtimeMs];
    }),
  };
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export class PrebuiltBinaryCheck {
  /** This system's fingerprint, read once: a start that finds a stale record writes the new one. */
  private fingerprint: Promise<string> | undefined;

  constructor(private readonly recordFile: string) {}

  private fingerprintOf(dir: string): Promise<string> {
    this.fingerprint ??= fingerprintOf(dir);
    return this.fingerprint;
  }

  /** node-llama-cpp on the CPU prebuilt addon without its binary test, when that test passed
   *  before on this very system; undefined otherwise (then getLlama runs as usual). */
  async loadIfPassed(logLevel: LlamaLogLevel, logger: LlamaLogger): Promise<Llama | undefined> {
    const binding = prebuiltCpuBinding();
    if (!binding) return undefined;
    let record: PassRecord;
    try {
      record = JSON.parse(fs.readFileSync(this.recordFile, 'utf8')) as PassRecord;
    } catch {
      return undefined;
    }
    if (record.bindingPath !== binding.bindingPath || record.fingerprint !== (await this.fingerprintOf(binding.dir))) return undefined;
    const buildMetadata = JSON.parse(fs.readFileSync(path.join(binding.dir, '_nlcBuildMetadata.json'), 'utf8')) as unknown;
    return createCpuLlama({ bindings: loadBindingModule(binding.bindingPath), bindingPath: binding.bindingPath, buildMetadata, logLevel, logger });
  }

  /** Remembers that getLlama loaded `llama` (tested) on the CPU prebuilt addon. Written atomically;
   *  a record that cannot be written only means the next start tests again. */
  async rememberPass(llama: Llama): Promise<void> {
    const binding = prebuiltCpuBinding();
    if (!binding || llama.gpu !== false || llama.buildType !== 'prebuilt') return;
    const record: PassRecord = { fingerprint: await this.fingerprintOf(binding.dir), bindingPath: binding.bindingPath, passedAt: new Date().toISOString() };
    fs.mkdirSync(path.dirname(this.recordFile), { recursive: true });
    const temporary = `${this.recordFile}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, JSON.stringify(record, null, 2));
    fs.renameSync(temporary, this.recordFile);
  }
}
