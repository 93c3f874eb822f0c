import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Where node-llama-cpp is installed and which version, found without loading it: the main thread
// asks too (which module the runtime thread loads), and node-llama-cpp's import costs ~0.4 s.

/** node-llama-cpp's entry, dist/index.js. */
export function nodeLlamaCppIndexPath(): string {
  return fileURLToPath(import.meta.resolve('node-llama-cpp'));
}

/** node-llama-cpp's package folder. */
export function nodeLlamaCppRoot(): string {
  return path.dirname(path.dirname(nodeLlamaCppIndexPath()));
}

/** The installed node-llama-cpp's version, or undefined when none is found. */
export function installedNodeLlamaCppVersion(): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(nodeLlamaCppRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}
