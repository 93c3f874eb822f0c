import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

export interface LlamaRuntimeOptions {
  gpu: 'auto' | boolean;
  onLog?: (level: 'warn' | 'error', message: string) => void;
}

/** The llama.cpp binding, loaded once per process. Loading takes most of a second, so it starts
 *  in the background at boot and /readyz waits for it. */
export class LlamaRuntime {
  private readonly loading: Promise<Llama>;
  private loaded: Llama | undefined;

  constructor(options: LlamaRuntimeOptions) {
    this.loading = getLlama({
      gpu: options.gpu === true ? 'auto' : options.gpu,
      // Never compile or download at run time: air-gapped installs use the prebuilt binaries.
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) options.onLog?.('error', message);
        else if (level === LlamaLogLevel.warn) options.onLog?.('warn', message);
      },
    }).then((llama) => (this.loaded = llama));
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
