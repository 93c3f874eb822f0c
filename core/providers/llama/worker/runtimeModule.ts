import { installedNodeLlamaCppVersion } from '../../../runtimes/llama/nodeLlamaCppPackage.js';
import { bundleUnusableReason } from '../../../startupBundle.js';
import { siblingModule } from '../../../runtimes/worker/workerPool.js';

/** What the runtime thread loads, and why, for the start-up log. */
export interface RuntimeModuleChoice {
  url: URL;
  bundled: boolean;
  reason: string;
}

/** The runtime thread's module: dist/runtime-bundle/host.js (scripts/bundleRuntime.ts) when the
 *  build made one from this build's host.js and the node-llama-cpp version installed now, else
 *  host.js and its modules one by one (from the sources, after a tsc build without bundling, or
 *  after node-llama-cpp was changed under a built llmsvc). LLMSVC_RUNTIME_BUNDLE=0 turns the
 *  bundle off. */
export function runtimeModule(importMetaUrl: string, env: NodeJS.ProcessEnv = process.env): RuntimeModuleChoice {
  const host = siblingModule('host', importMetaUrl);
  const unbundled = (reason: string) => ({ url: host, bundled: false, reason });
  if (host.pathname.endsWith('.ts')) return unbundled('running from the sources');
  if (env.LLMSVC_RUNTIME_BUNDLE === '0') return unbundled('LLMSVC_RUNTIME_BUNDLE=0');
  const bundleDir = new URL('../../../../runtime-bundle/', importMetaUrl);
  const installedVersion = installedNodeLlamaCppVersion();
  const unusable = bundleUnusableReason(bundleDir, (manifest) =>
    manifest.nodeLlamaCpp === installedVersion ? undefined : `the bundle is of node-llama-cpp ${manifest.nodeLlamaCpp}, ${installedVersion ?? 'none'} is installed`,
  );
  if (unusable) return unbundled(unusable);
  return { url: new URL('host.js', bundleDir), bundled: true, reason: `node-llama-cpp ${installedVersion}, bundled` };
}
