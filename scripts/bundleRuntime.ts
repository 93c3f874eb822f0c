// Bundles the llama runtime thread (dist/core/providers/llama/worker/host.js, with node-llama-cpp
// and its JavaScript dependencies) into dist/runtime-bundle/host.js. Run by `npm run build`.
//
// Why: the runtime thread loads about 700 small modules (node-llama-cpp's 220, ipull, semver,
// fs-extra, our runtime…) before llama.cpp can load, and `/readyz` waits for it. One file loads in
// about a third of the time and its isolate holds ~15 MB less (measured: importing node-llama-cpp
// 430 → 170 ms, 80 → 63 MB RSS). The thread uses the bundle only when it was made from the
// node-llama-cpp version that is installed (core/providers/llama/worker/runtimeModule.ts); else the
// modules load one by one as before.
//
// What keeps working in one file:
// - node-llama-cpp finds its llama.cpp folder, prebuilt binaries and helper scripts from
//   `import.meta.url`: in its files that expression becomes the original file's URL, under the
//   node-llama-cpp folder resolved where the bundle runs;
// - our own modules likewise get their dist file's URL (they locate sibling workers and addons);
// - the node-llama-cpp internals the runtime patches change are the bundle's own copies
//   (nodeLlamaCppInternals.ts is replaced by static imports of the same files);
// - native addons and the optional prebuilt-binary packages stay outside.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { nodeLlamaCppInternals } from '../core/runtimes/llama/nodeLlamaCppInternals.js';
import { installedNodeLlamaCppVersion, nodeLlamaCppIndexPath, nodeLlamaCppRoot as findNodeLlamaCppRoot } from '../core/runtimes/llama/nodeLlamaCppPackage.js';
import { bannerLines, dist, keepFileUrls, root, sharedBuildOptions, writeManifest } from './bundleSupport.js';

const entry = path.join(dist, 'core/providers/llama/worker/host.js');
const outDir = path.join(dist, 'runtime-bundle');
const outFile = path.join(outDir, 'host.js');
const nodeLlamaCppDist = path.dirname(nodeLlamaCppIndexPath());
const nodeLlamaCppRoot = findNodeLlamaCppRoot();
const nodeLlamaCppVersion = installedNodeLlamaCppVersion()!;

/** nodeLlamaCppInternals.ts as static imports, resolved from node-llama-cpp's dist folder: the very
 *  files node-llama-cpp imports. */
const staticInternals: esbuild.Plugin = {
  name: 'static-node-llama-cpp-internals',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]core[\\/]runtimes[\\/]llama[\\/]nodeLlamaCppInternals\.js$/ }, () => {
      const imports = nodeLlamaCppInternals.map((specifier, index) => `import * as internal${index} from ${JSON.stringify(specifier)};`);
      const table = nodeLlamaCppInternals.map((specifier, index) => `${JSON.stringify(specifier)}: internal${index}`);
      return {
        contents: `${imports.join('\n')}\nconst internals = { ${table.join(', ')} };\nexport const nodeLlamaCppInternals = Object.keys(internals);\nexport async function importNodeLlamaCppInternal(specifier) { return internals[specifier]; }\n`,
        resolveDir: nodeLlamaCppDist,
        loader: 'js',
      };
    });
  },
};

// node-llama-cpp tests a prebuilt binary (on a first start) in a child process that runs
// testBindingBinary.js, which loads a good part of node-llama-cpp by itself: that file is bundled
// too, and the fork inside host.js starts the bundled copy.
const bindingTest = path.join(nodeLlamaCppDist, 'bindings/utils/testBindingBinary.js');
const bindingTestUrl = "new URL('testBindingBinary.js', import.meta.url).href";

const started = performance.now();
fs.rmSync(outDir, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: { host: entry, testBindingBinary: bindingTest },
  outdir: outDir,
  ...sharedBuildOptions,
  // Native addons, the prebuilt llama.cpp packages node-llama-cpp imports by name, and Electron
  // (node-llama-cpp forks its binary test through it when it runs inside Electron).
  external: ['*.node', '@node-llama-cpp/*', '@reflink/*', 'electron'],
  // staticInternals first: esbuild uses the first onLoad that answers.
  plugins: [staticInternals, keepFileUrls(outDir, [{ dir: nodeLlamaCppRoot, fileUrlFunction: '__llmsvcNodeLlamaCppFile' }], new Map([[bindingTest, bindingTestUrl]]))],
  metafile: true,
  banner: {
    js: [
      ...bannerLines,
      // node-llama-cpp's files get their URL under the node-llama-cpp installed where the bundle runs.
      "const __llmsvcNodeLlamaCppRoot = new URL('../', import.meta.resolve('node-llama-cpp'));",
      'const __llmsvcNodeLlamaCppFile = (relative) => new URL(relative, __llmsvcNodeLlamaCppRoot).href;',
    ].join('\n'),
  },
});
// The internals the patches change must be the very modules node-llama-cpp uses (its lock
// registry, the prototypes it builds grammars with): check that the replaced internals module and
// node-llama-cpp's own files import the same files.
const inputs = result.metafile.inputs;
const importsOf = (suffix: string) => {
  const input = Object.keys(inputs).find((name) => name.split(path.sep).join('/').endsWith(suffix));
  if (!input) throw new Error(`The runtime bundle holds no ${suffix}`);
  return new Map(inputs[input]!.imports.map((imported) => [imported.original ?? imported.path, imported.path]));
};
const ours = importsOf('dist/core/runtimes/llama/nodeLlamaCppInternals.js');
const theirs = new Map([
  ['lifecycle-utils', importsOf('node-llama-cpp/dist/evaluator/LlamaContext/LlamaContext.js').get('lifecycle-utils')],
  ['./utils/gbnfJson/terminals/GbnfNumber.js', Object.keys(inputs).find((name) => name.endsWith('node-llama-cpp/dist/utils/gbnfJson/terminals/GbnfNumber.js'))],
]);
for (const [specifier, expected] of theirs) {
  if (!expected || ours.get(specifier) !== expected) throw new Error(`The runtime bundle's ${specifier} (${ours.get(specifier)}) is not node-llama-cpp's own (${expected})`);
}
writeManifest(outDir, entry, { nodeLlamaCpp: nodeLlamaCppVersion });
const size = fs.statSync(outFile).size + fs.statSync(path.join(outDir, 'testBindingBinary.js')).size;
console.log(`runtime bundle: ${path.relative(root, outFile)} (${(size / 1e6).toFixed(1)} MB, node-llama-cpp ${nodeLlamaCppVersion}) in ${(performance.now() - started).toFixed(0)} ms`);
