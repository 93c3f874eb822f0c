import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { siblingModule } from '../../../runtimes/worker/workerPool.js';

/** Why the runtime thread loads what it loads, for the start-up log. */
export interface RuntimeModuleChoice {
  url: URL;
  bundled: boolean;
  reason: string;
}

/** The runtime thread's module: dist/runtime-bundle/host.js (scripts/bundleRuntime.ts) when the
 *  build made one from the node-llama-cpp version installed now, else host.js and its modules one
 *  by one (from the sources, or after node-llama-cpp was changed under a built llmsvc).
 *  LLMSVC_RUNTIME_BUNDLE=0 turns the bundle off. */
export function runtimeModule(importMetaUrl: string, env: NodeJS.ProcessEnv = process.env): RuntimeModuleChoice {
  const host = siblingModule('host', importMetaUrl);
  const unbundled = (reason: string) => ({ url: host, bundled: false, reason });
  if (host.pathname.endsWith('.ts')) return unbundled('running from the sources');
  if (env.LLMSVC_RUNTIME_BUNDLE === '0') return unbundled('LLMSVC_RUNTIME_BUNDLE=0');
  const bundle = new URL('../../../../runtime-bundle/host.js', importMetaUrl);
  const manifestFile = new URL('manifest.json', bundle);
  let bundledVersion: string;
  try {
    bundledVersion = (JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { nodeLlamaCpp: string }).nodeLlamaCpp;
  } catch {
    return unbundled('this build has no runtime bundle');
  }
  const installedVersion = installedNodeLlamaCppVersion();
  if (installedVersion !== bundledVersion) return unbundled(`the runtime bundle is of node-llama-cpp ${bundledVersion}, ${installedVersion ?? 'none'} is installed`);
  return { url: bundle, bundled: true, reason: `node-llama-cpp ${installedVersion}, bundled` };
}

function installedNodeLlamaCppVersion(): string | undefined {
  try {
    const root = path.dirname(path.dirname(fileURLToPath(import.meta.resolve('node-llama-cpp'))));
    return (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}
