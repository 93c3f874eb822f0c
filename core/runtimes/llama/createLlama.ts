// Llama._create: node-llama-cpp's internal constructor, which getLlama calls once it has chosen a
// binding and (on Linux, for prebuilt binaries) tested it in a child process
// (dist/bindings/getLlama.js, loadExistingLlamaBinary). llmsvc calls it itself for a binding it
// chose: the fast addon (fastAddon.ts) and a prebuilt binary whose test already passed on this
// system (prebuiltBinaryCheck.ts). CPU only: no VRAM padding.
import { createRequire } from 'node:module';
import { getLlamaGpuTypes, Llama, type LlamaLogLevel } from 'node-llama-cpp';

export type LlamaLogger = (level: LlamaLogLevel, message: string) => void;

type CreateLlama = (options: {
  bindings: unknown;
  bindingPath: string;
  buildType: 'prebuilt';
  buildMetadata: unknown;
  logLevel: LlamaLogLevel;
  logger: LlamaLogger;
  vramPadding: number;
  ramPadding: (totalRam: number) => number;
  tempDir: false;
}) => Promise<Llama>;

/** The GPUs getLlama would try before the CPU binary for this `gpu` setting ([]: the CPU one is loaded). */
export async function gpusToTry(gpu: 'auto' | false): Promise<string[]> {
  if (gpu === false) return [];
  return (await getLlamaGpuTypes('supported')).filter((type) => type !== false);
}

/** A fresh instance of the addon at `bindingPath`, as node-llama-cpp's loadBindingModule gives
 *  each Llama (each has its own logger). */
export function loadBindingModule<T>(bindingPath: string): T {
  const require = createRequire(import.meta.url);
  delete require.cache[bindingPath];
  const bindings = require(bindingPath) as T;
  delete require.cache[bindingPath];
  return bindings;
}

/** A CPU Llama on `bindings`, undefined when this node-llama-cpp has no Llama._create. The llama.cpp
 *  libraries beside the binding are the prebuilt ones: node-llama-cpp reads `buildType` and the
 *  metadata only to find its bundled grammars. */
export async function createCpuLlama(options: {
  bindings: unknown;
  bindingPath: string;
  buildMetadata: unknown;
  logLevel: LlamaLogLevel;
  logger: LlamaLogger;
}): Promise<Llama | undefined> {
  const create = (Llama as unknown as { _create?: CreateLlama })._create;
  if (typeof create !== 'function') return undefined;
  return create.call(Llama, {
    ...options,
    buildType: 'prebuilt',
    vramPadding: 0,
    // node-llama-cpp's Linux default (dist/bindings/getLlama.js, defaultLlamaRamPadding).
    ramPadding: (totalRam) => Math.floor(Math.min(totalRam * 0.25, 1024 ** 3)),
    tempDir: false,
  });
}
