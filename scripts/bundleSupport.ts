// What the two start-up bundles (bundleRuntime.ts, bundleCli.ts) share: where things are, their
// common esbuild options, an esbuild plugin that keeps every file's own URL, and the manifest that says what a bundle was
// made from (core/startupBundle.ts reads it before loading one).
import fs from 'node:fs';
import path from 'node:path';
import type * as esbuild from 'esbuild';
import { startupBundleManifestName, type BundleManifest } from '../core/startupBundle.js';

export const root = path.resolve(import.meta.dirname, '..');
export const dist = path.join(root, 'dist');

const isInside = (dir: string, file: string) => !path.relative(dir, file).startsWith('..');
const posix = (relative: string) => relative.split(path.sep).join('/');

/** Replaces `import.meta.url` (and `import.meta.dirname`) in our dist files with the URL of the file
 *  itself, computed from the bundle's own URL: they find sibling workers, addons, package.json and
 *  the console's files from it. Every output file must be in `outDir` (no chunk subfolders).
 *  `alsoUnder` maps other folders (a package's) to a banner function that gives a file's URL at
 *  run time from its path relative to that folder. */
export function keepFileUrls(
  outDir: string,
  alsoUnder: { dir: string; fileUrlFunction: string }[] = [],
  /** Files whose `import.meta.url` becomes the given expression instead. */
  overrides: ReadonlyMap<string, string> = new Map(),
): esbuild.Plugin {
  return {
    name: 'keep-file-urls',
    setup(build) {
      build.onLoad({ filter: /\.js$/ }, async (args) => {
        const ours = isInside(dist, args.path);
        const other = alsoUnder.find(({ dir }) => isInside(dir, args.path) && !args.path.includes(`${path.sep}node_modules${path.sep}`, dir.length));
        if (!ours && !other) return undefined;
        const text = await fs.promises.readFile(args.path, 'utf8');
        if (!text.includes('import.meta.url') && !text.includes('import.meta.dirname')) return undefined;
        const fileUrl =
          overrides.get(args.path) ??
          (ours
            ? `new URL(${JSON.stringify(posix(path.relative(outDir, args.path)))}, import.meta.url).href`
            : `${other!.fileUrlFunction}(${JSON.stringify(posix(path.relative(other!.dir, args.path)))})`);
        return {
          contents: text.replaceAll('import.meta.url', fileUrl).replaceAll('import.meta.dirname', `__llmsvcDirname(${fileUrl})`),
          loader: 'js',
        };
      });
    },
  };
}

/** The esbuild options of both bundles: ESM for the oldest Node llmsvc supports, minified for
 *  whitespace and syntax only. V8 keeps every script's source in memory (for lazy compilation),
 *  so smaller source is less RSS; identifiers stay, so stack traces still name functions (and the
 *  dispatch patch can still recognise node-llama-cpp's loop by its source). */
export const sharedBuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  legalComments: 'none',
  minifyWhitespace: true,
  minifySyntax: true,
} as const satisfies esbuild.BuildOptions;

/** The first lines of every output file: require() for the CommonJS dependencies' use of Node's
 *  own modules, and what keepFileUrls' replacements call. */
export const bannerLines = [
  "import { createRequire as __llmsvcCreateRequire } from 'node:module';",
  "import { dirname as __llmsvcPathDirname } from 'node:path';",
  "import { fileURLToPath as __llmsvcFileURLToPath } from 'node:url';",
  'const require = __llmsvcCreateRequire(import.meta.url);',
  'const __llmsvcDirname = (url) => __llmsvcPathDirname(__llmsvcFileURLToPath(url));',
];

/** Writes the manifest, last: the bundle is current while its entry (a tsc output) is not newer
 *  than the manifest. A tsc build without bundling rewrites every output, and the modules are then
 *  loaded one by one instead of a stale bundle. */
export function writeManifest(outDir: string, entry: string, extra: Omit<BundleManifest, 'entry'>): void {
  const manifest: BundleManifest = { ...extra, entry: posix(path.relative(outDir, entry)) };
  fs.writeFileSync(path.join(outDir, startupBundleManifestName), `${JSON.stringify(manifest, null, 2)}\n`);
}
