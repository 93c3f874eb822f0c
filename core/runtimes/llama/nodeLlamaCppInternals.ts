import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { nodeLlamaCppIndexPath } from './nodeLlamaCppPackage.js';

// The modules inside node-llama-cpp that the runtime patches (yieldingBatchDispatch,
// jsonGrammarTerminals) reach into. Each must be the very instance node-llama-cpp itself uses:
// lifecycle-utils keeps the lock registry, and the grammar terminals are patched on their
// prototypes. Here they are imported from node-llama-cpp's own folder; in the runtime bundle
// (scripts/bundleRuntime.ts) this module is replaced by one that imports the same files
// statically, so that esbuild makes them the bundle's one copy.

/** Paths inside node-llama-cpp's dist folder (./…), or a package as node-llama-cpp resolves it. */
export const nodeLlamaCppInternals = [
  'lifecycle-utils',
  './evaluator/LlamaContext/utils/resolveBatchItemsPrioritizationStrategy.js',
  './utils/gbnfJson/terminals/GbnfNumber.js',
  './utils/gbnfJson/terminals/GbnfString.js',
  './utils/gbnfJson/terminals/GbnfInsideStringChar.js',
  './utils/gbnfJson/terminals/GbnfRepetition.js',
] as const;

export type NodeLlamaCppInternal = (typeof nodeLlamaCppInternals)[number];

export async function importNodeLlamaCppInternal(specifier: NodeLlamaCppInternal): Promise<Record<string, unknown>> {
  const indexPath = nodeLlamaCppIndexPath();
  const url = specifier.startsWith('./') ? new URL(specifier, pathToFileURL(indexPath)) : pathToFileURL(createRequire(indexPath).resolve(specifier));
  return (await import(url.href)) as Record<string, unknown>;
}
