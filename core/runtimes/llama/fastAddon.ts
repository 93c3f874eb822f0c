// The optional fast addon: node-llama-cpp 3.21.1's own addon sources plus llmsvc's additions
// (scripts/fast-addon/), compiled by `npm run build:fast-addon` against the prebuilt llama.cpp
// shared libraries that `npm install` ships in @node-llama-cpp/linux-x64. Only the addon is
// compiled, never llama.cpp, so the libraries (and their CPU variants) stay the stock ones.
//
// When the build is present and matches what is installed (node-llama-cpp's version, the prebuilt
// release and the very library files it was linked against), the runtime hands it to
// node-llama-cpp instead of the prebuilt llama-addon.node; otherwise the stock addon is used and
// one warning says why. Absent, nothing is said: the fast addon is an opt-in.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { getModuleVersion, type Llama, type LlamaLogLevel } from 'node-llama-cpp';
import { createCpuLlama, gpusToTry, loadBindingModule, type LlamaLogger } from './createLlama.js';
import { nodeLlamaCppRoot } from './nodeLlamaCppPackage.js';

export const fastAddonNodeLlamaCppVersion = '3.21.1';
/** The prebuilt package (and binaries folder) the fast addon links against: CPU-only Linux x64. */
export const prebuiltPackage = '@node-llama-cpp/linux-x64';
/** The libraries the addon links against (the prebuilt addon's NEEDED entries from llama.cpp). */
export const linkedLibraries = ['libllama-common.so', 'libllama.v0.4.0.so', 'libggml.v0.4.0.so', 'libggml-base.so'];
export const fastAddonFile = 'llama-addon.node';
export const buildInfoFile = 'build.json';

export interface FastAddonBuildInfo {
  nodeLlamaCpp: string;
  llamaCppRelease: string;
  /** sha256 of each linked library at build time. */
  libraries: Record<string, string>;
  additions: string[];
}

export interface PrebuiltBinaries {
  dir: string;
  llamaCppRelease: string;
}

/** The repository (or installed package) root: the closest folder above this module holding
 *  llmsvc's package.json. The same from core/ under tsx and from dist/core/ when compiled. */
function llmsvcRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    try {
      if ((JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'llmsvc') return dir;
    } catch {
      // no (readable) package.json here
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** .cache/fast-addon in llmsvc's checkout (undefined when llmsvc's package.json is not found). */
export function defaultFastAddonDir(): string | undefined {
  const root = llmsvcRoot();
  return root === undefined ? undefined : path.join(root, '.cache', 'fast-addon');
}

/** Where npm put the prebuilt CPU binaries, and which llama.cpp release they are. */
export function findPrebuiltBinaries(): PrebuiltBinaries {
  const entry = createRequire(path.join(nodeLlamaCppRoot(), 'package.json')).resolve(prebuiltPackage);
  const packageDir = path.resolve(path.dirname(entry), '..');
  const dir = path.join(packageDir, 'bins', 'linux-x64');
  const metadata = JSON.parse(fs.readFileSync(path.join(dir, '_nlcBuildMetadata.json'), 'utf8')) as {
    buildOptions: { llamaCpp: { release: string } };
  };
  return { dir, llamaCppRelease: metadata.buildOptions.llamaCpp.release };
}

export function fingerprintLibraries(dir: string): Record<string, string> {
  return Object.fromEntries(
    linkedLibraries.map((name) => [name, createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex')]),
  );
}

export type FastAddonOutcome =
  | { status: 'absent' }
  | { status: 'loaded'; llama: Llama; path: string }
  | { status: 'refused'; reason: string };

export interface FastLlamaOptions {
  gpu: 'auto' | false;
  /** Sample a lone stream on the JS thread (sampleTokenSync) instead of a thread-pool hop per token.
   *  Off unless true: in a two-stream check it swapped the streams' first tokens in 2 runs of 10
   *  (0 of 10 with the stock sampler); see README, "Faster local inference". */
  syncSampling?: boolean;
  logLevel: LlamaLogLevel;
  logger: LlamaLogger;
}

/** Why the build in `dir` cannot be used with what is installed, or undefined when it can. */
export async function whyNotUsable(dir: string, info: FastAddonBuildInfo, gpu: FastLlamaOptions['gpu']): Promise<string | undefined> {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `it is built for linux-x64 only, this is ${process.platform}-${process.arch}`;
  const installed = (await getModuleVersion()) as string;
  if (installed !== fastAddonNodeLlamaCppVersion) return `node-llama-cpp ${installed} is installed; llmsvc's fast addon is written for ${fastAddonNodeLlamaCppVersion}`;
  if (info.nodeLlamaCpp !== installed) return `it was built for node-llama-cpp ${info.nodeLlamaCpp}, ${installed} is installed; rebuild it (npm run build:fast-addon)`;
  const prebuilt = findPrebuiltBinaries();
  if (info.llamaCppRelease !== prebuilt.llamaCppRelease) return `it was built for llama.cpp ${info.llamaCppRelease}, the prebuilt binaries are ${prebuilt.llamaCppRelease}; rebuild it (npm run build:fast-addon)`;
  const libraries = fingerprintLibraries(prebuilt.dir);
  const changed = linkedLibraries.filter((name) => libraries[name] !== info.libraries[name]);
  if (changed.length > 0) return `the prebuilt ${changed.join(', ')} changed since it was built; rebuild it (npm run build:fast-addon)`;
  if (!fs.existsSync(path.join(dir, fastAddonFile))) return `${path.join(dir, fastAddonFile)} is missing; rebuild it (npm run build:fast-addon)`;
  const gpus = await gpusToTry(gpu);
  if (gpus.length > 0) return `it is CPU-only and a GPU (${gpus.join(', ')}) is available; set gpu to false to use it`;
  return undefined;
}

/** Loads node-llama-cpp on the fast addon in `dir` when one is built there and fits. */
export async function loadFastLlama(dir: string, options: FastLlamaOptions): Promise<FastAddonOutcome> {
  const infoPath = path.join(dir, buildInfoFile);
  if (!fs.existsSync(infoPath)) return { status: 'absent' };
  try {
    const info = JSON.parse(fs.readFileSync(infoPath, 'utf8')) as FastAddonBuildInfo;
    const reason = await whyNotUsable(dir, info, options.gpu);
    if (reason) return { status: 'refused', reason };
    const prebuilt = findPrebuiltBinaries();
    const bindingPath = path.join(dir, fastAddonFile);
    const bindings = loadBindingModule<AddonBindings>(bindingPath);
    if (options.syncSampling === true) useSyncSampling(bindings);
    const buildMetadata = JSON.parse(fs.readFileSync(path.join(prebuilt.dir, '_nlcBuildMetadata.json'), 'utf8')) as unknown;
    const llama = await createCpuLlama({ bindings, bindingPath, buildMetadata, logLevel: options.logLevel, logger: options.logger });
    if (!llama) return { status: 'refused', reason: 'node-llama-cpp has no Llama._create' };
    return { status: 'loaded', llama, path: bindingPath };
  } catch (error) {
    return { status: 'refused', reason: `loading it failed: ${(error as Error).message}` };
  }
}

interface AddonContextInstance {
  initBatch(size: number): void;
  addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): unknown;
  decodeBatch(): Promise<void>;
  sampleToken(batchLogitIndex: number, sampler: object, ...probabilitiesAndConfidence: boolean[]): Promise<unknown>;
  sampleTokenSync?(batchLogitIndex: number, sampler: object): number;
}
type AddonContextClass = new (...args: never[]) => AddonContextInstance;
interface AddonBindings {
  AddonContext?: AddonContextClass;
}

/** node-llama-cpp 3.21.1 samples every token through sampleToken, an AsyncWorker: a thread-pool
 *  round trip per token. When the decoded batch had one sequence to sample (one stream decoding)
 *  and no probabilities or confidence are asked for (llmsvc asks for none), this answers from
 *  sampleTokenSync on the calling thread instead, as a promise like the stock one. With several
 *  sequences the stock path stays: it samples them in parallel on the thread pool rather than one
 *  after another on the runtime thread. The addon's methods are read-only, so node-llama-cpp is
 *  handed a subclass (it only ever calls `new AddonContext`). */
function useSyncSampling(bindings: AddonBindings): void {
  const Base = bindings.AddonContext;
  if (!Base || typeof Base.prototype.sampleTokenSync !== 'function') return;
  class SyncSamplingAddonContext extends Base {
    /** Entries with an output in the batch being built, and in the one decoded last. */
    private outputsInBatch = 0;
    private outputsInDecodedBatch = 0;

    override initBatch(size: number): void {
      this.outputsInBatch = 0;
      super.initBatch(size);
    }

    override addToBatch(sequenceId: number, firstTokenIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): unknown {
      if (logitIndexes.length > 0) this.outputsInBatch += 1;
      return super.addToBatch(sequenceId, firstTokenIndex, tokens, logitIndexes);
    }

    override decodeBatch(): Promise<void> {
      this.outputsInDecodedBatch = this.outputsInBatch;
      return super.decodeBatch();
    }

    override sampleToken(batchLogitIndex: number, sampler: object, ...probabilitiesAndConfidence: boolean[]): Promise<unknown> {
      if (probabilitiesAndConfidence.length > 0 || this.outputsInDecodedBatch > 1) return super.sampleToken(batchLogitIndex, sampler, ...probabilitiesAndConfidence);
      try {
        return Promise.resolve(this.sampleTokenSync!(batchLogitIndex, sampler));
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
  }
  bindings.AddonContext = SyncSamplingAddonContext;
}

/** The llmsvc additions of the addon a Llama runs on ([] for the stock addon). */
export function fastAddonAdditions(llama: Llama): string[] {
  const bindings = (llama as unknown as { _bindings?: { llmsvcFastAddonInfo?: () => { additions: string[] } } })._bindings;
  return bindings?.llmsvcFastAddonInfo?.().additions ?? [];
}

/** AddonContext.getSequenceEmbedding of the fast addon: the embedding of sequence `sequenceId` in
 *  the last decoded batch — pooled by the context's pooling type, or for a context that does not
 *  pool (LLAMA_POOLING_TYPE_NONE) the embedding of the token at `batchIndexOfLastToken` (which must
 *  have been added with an output) — at most `maxVectorSize` values (0: all). */
export type GetSequenceEmbedding = (sequenceId: number, batchIndexOfLastToken?: number, maxVectorSize?: number) => Float64Array;

/** getSequenceEmbedding of a context's addon, bound to it, when the loaded addon has it (so several
 *  embedding inputs can be evaluated in one batch); undefined on the stock addon. */
export function sequenceEmbeddingReader(context: object): GetSequenceEmbedding | undefined {
  const addonContext = (context as { _ctx?: { getSequenceEmbedding?: GetSequenceEmbedding } })._ctx;
  const read = addonContext?.getSequenceEmbedding;
  return typeof read === 'function' ? read.bind(addonContext) : undefined;
}
