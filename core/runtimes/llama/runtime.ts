import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { gpusToTry } from './createLlama.js';
import { installBoundedJsonTerminals } from './jsonGrammarTerminals.js';
import { defaultFastAddonDir, loadFastLlama } from './fastAddon.js';
import { PrebuiltBinaryCheck } from './prebuiltBinaryCheck.js';
import { installYieldingBatchDispatch, type PatchOutcome } from './yieldingBatchDispatch.js';

export interface LlamaRuntimeOptions {
  gpu: 'auto' | boolean;
  onLog?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Where `npm run build:fast-addon` put the fast addon (default: the checkout's .cache/fast-addon). */
  fastAddonDir?: string;
  /** Where a passed binary test of node-llama-cpp's prebuilt CPU addon is remembered, so later
   *  starts skip it (see prebuiltBinaryCheck.ts); unset: tested on every start. */
  binaryCheckFile?: string;
}

/** The llama.cpp binding, loaded once per process. Loading takes most of a second, so it starts
 *  in the background at boot and /readyz waits for it. */
export class LlamaRuntime {
  private readonly loading: Promise<Llama>;
  private loaded: Llama | undefined;
  /** The fast addon node-llama-cpp runs on, when it does. */
  fastAddonPath: string | undefined;
  /** How the binding was loaded: llmsvc's fast addon, the prebuilt addon whose binary test passed
   *  on an earlier start, or getLlama (which tests a prebuilt binary first). */
  loadedBy: 'fast-addon' | 'remembered-binary-test' | 'getLlama' | undefined;
  /** Whether new requests join running generations between decode steps (see yieldingBatchDispatch). */
  readonly batchDispatchPatch: Promise<PatchOutcome>;

  constructor(options: LlamaRuntimeOptions) {
    // Before any context exists: the patch changes how every context dispatches its batches.
    this.batchDispatchPatch = installYieldingBatchDispatch().then((outcome) => {
      if (!outcome.applied) {
        options.onLog?.(
          'warn',
          `llmsvc could not patch node-llama-cpp's batch dispatch (${outcome.reason}): a request that arrives while others generate on a model may wait until they finish before its first token. Install the node-llama-cpp version llmsvc pins.`,
        );
      }
      return outcome;
    });
    // Before any grammar exists: JSON numbers and strings become bounded (see jsonGrammarTerminals).
    const numberPatch = installBoundedJsonTerminals().then((outcome) => {
      if (!outcome.applied) {
        options.onLog?.(
          'warn',
          `llmsvc could not bound the numbers and strings of JSON grammars (${outcome.reason}): json_schema output and tool-call arguments may hold exponents, unsafe integers or strings longer than their maxLength. Install the node-llama-cpp version llmsvc pins.`,
        );
      }
    });
    this.loading = Promise.all([this.batchDispatchPatch, numberPatch]).then(() => this.load(options)).then((llama) => (this.loaded = llama));
    // Callers see the failure when they await `llama()`; this keeps it from being unhandled meanwhile.
    this.loading.catch(() => {});
  }

  /** node-llama-cpp on llmsvc's fast addon when one is built and fits (see fastAddon.ts), else
   *  on its prebuilt addon. */
  private async load(options: LlamaRuntimeOptions): Promise<Llama> {
    const gpu = options.gpu === true ? 'auto' : options.gpu;
    const logLevel = LlamaLogLevel.warn;
    const logger = (level: LlamaLogLevel, message: string) => {
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) options.onLog?.('error', message);
      else if (level === LlamaLogLevel.warn) options.onLog?.('warn', message);
    };
    const fastAddonDir = options.fastAddonDir ?? defaultFastAddonDir();
    const fast = fastAddonDir === undefined ? ({ status: 'absent' } as const) : await loadFastLlama(fastAddonDir, { gpu, logLevel, logger });
    if (fast.status === 'loaded') {
      this.fastAddonPath = fast.path;
      this.loadedBy = 'fast-addon';
      options.onLog?.('info', `llama.cpp runs on llmsvc's fast addon (${fast.path})`);
      return fast.llama;
    }
    if (fast.status === 'refused') {
      options.onLog?.('warn', `llmsvc's fast addon in ${fastAddonDir} is not used (${fast.reason}); node-llama-cpp's prebuilt addon is used instead.`);
    }
    const check = options.binaryCheckFile === undefined ? undefined : new PrebuiltBinaryCheck(options.binaryCheckFile);
    const cpuBinaryChecked = check !== undefined && (await gpusToTry(gpu)).length === 0;
    const tested = cpuBinaryChecked ? await check.loadIfPassed(logLevel, logger).catch(() => undefined) : undefined;
    if (tested) {
      this.loadedBy = 'remembered-binary-test';
      return tested;
    }
    this.loadedBy = 'getLlama';
    // Never compile or download at run time: air-gapped installs use the prebuilt binaries.
    const llama = await getLlama({ gpu, build: 'never', logLevel, logger });
    await check?.rememberPass(llama).catch((error: Error) => options.onLog?.('warn', `could not remember that node-llama-cpp's binary test passed (${error.message}); the next start tests it again.`));
    return llama;
  }

  llama(): Promise<Llama> {
    return this.loading;
  }

  /** Which backend llama.cpp runs on: 'cuda', 'vulkan', 'metal' or 'cpu'. */
  get backend(): string | undefined {
    if (!this.loaded) return undefined;
    return this.loaded.gpu === false ? 'cpu' : this.loaded.gpu;
  }

  async dispose(): Promise<void> {
    if (this.loaded) await this.loaded.dispose();
  }
}
