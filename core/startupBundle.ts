import fs from 'node:fs';

// The start-up bundles `npm run build` makes (scripts/bundleCli.ts, scripts/bundleRuntime.ts): one
// file, or a few chunks, instead of hundreds of modules. Each folder has a manifest that says what
// it was made from; a bundle is loaded only while that still holds.

export const bundleManifestName = 'manifest.json';

export interface BundleManifest {
  /** The tsc output the bundle was made from, relative to the bundle's folder. */
  entry: string;
  entryMtimeMs: number;
  /** The node-llama-cpp version bundled in (the runtime bundle only). */
  nodeLlamaCpp?: string;
}

/** Why the bundle in `bundleDir` (a folder URL) cannot be used, or undefined when it can: it is
 *  missing, or its entry was rebuilt since (tsc without bundling), or `installed` says otherwise. */
export function bundleUnusableReason(bundleDir: URL, installed: (manifest: BundleManifest) => string | undefined = () => undefined): string | undefined {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(fs.readFileSync(new URL(bundleManifestName, bundleDir), 'utf8')) as BundleManifest;
  } catch {
    return 'this build has no bundle';
  }
  let entryMtimeMs: number;
  try {
    entryMtimeMs = fs.statSync(new URL(manifest.entry, bundleDir)).mtimeMs;
  } catch {
    return `the bundle's entry ${manifest.entry} is missing`;
  }
  if (entryMtimeMs !== manifest.entryMtimeMs) return `${manifest.entry} was rebuilt after the bundle was made`;
  return installed(manifest);
}
