import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import { installBoundedJsonTerminals } from './jsonGrammarTerminals.js';
import { installYieldingBatchDispatch, type PatchOutcome } from './yieldingBatchDispatch.js';

export interface LlamaRuntimeOptions {
  gpu: 'auto' | boolean;
  onLog?: (level: 'warn' | 'error', message: string) => void;
}

/** The llama.cpp binding, loaded once per process. Loading takes most of a second, so it starts
 *  in the background at boot and /readyz waits for it. */
export class LlamaRuntime {
  private readonly loading: Promise<Llama>;
  private loaded: Llama | undefined;
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
    this.loading = Promise.all([this.batchDispatchPatch, numberPatch]).then(() => getLlama({
      gpu: options.gpu === true ? 'auto' : options.gpu,
      // Never compile or download at run time: air-gapped installs use the prebuilt binaries.
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) options.onLog?.('error', message);
        else if (level === LlamaLogLevel.warn) options.onLog?.('warn', message);
      },
    })).then((llama) => (this.loaded = llama));
    // Callers see the failure when they await `llama()`; this keeps it from being unhandled meanwhile.
    this.loading.catch(() => {});
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
