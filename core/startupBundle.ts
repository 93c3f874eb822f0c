import fs from 'node:fs';

// The start-up bundles `npm run build` makes (scripts/bundleCli.ts, scripts/bundleRuntime.ts): one
// file, or a few chunks, instead of hundreds of modules. Each folder has a manifest that says what
// it was made from; a bundle is loaded only while that still holds.

export const startupBundleManifestName = 'startup-bundle.json';

export interface BundleManifest {
  /** The tsc output the bundle was made from, relative to the bundle's folder. */
  entry: string;
  /** The node-llama-cpp version bundled in (the runtime bundle only). */
  nodeLlamaCpp?: string;
}

/** Why the bundle in `bundleDir` (a folder URL) cannot be used, or undefined when it can: it is
 *  missing, or its entry was rebuilt after it (tsc without bundling: tsc rewrites every output), or
 *  `installed` says otherwise. Compared by modification time, the manifest being written last:
 *  npm's tarballs give every file one time, and hard links and tar keep them. */
export function bundleUnusableReason(bundleDir: URL, installed: (manifest: BundleManifest) => string | undefined = () => undefined): string | undefined {
  const manifestUrl = new URL(startupBundleManifestName, bundleDir);
  let manifest: BundleManifest;
  let madeAtMs: number;
  try {
    manifest = JSON.parse(fs.readFileSync(manifestUrl, 'utf8')) as BundleManifest;
    madeAtMs = fs.statSync(manifestUrl).mtimeMs;
  } catch {
    return 'this build has no bundle';
  }
  let entryMtimeMs: number;
  try {
    entryMtimeMs = fs.statSync(new URL(manifest.entry, bundleDir)).mtimeMs;
  } catch {
    return `the bundle's entry ${manifest.entry} is missing`;
  }
  if (entryMtimeMs > madeAtMs) return `${manifest.entry} was rebuilt after the bundle was made`;
  return installed(manifest);
}
