// Bundles the `llmsvc` command (dist/apps/cli/cli.js and what it imports) into dist/cli-bundle/:
// an entry and chunks, split where the code imports lazily (each command group, the SDKs, the
// cluster modules), so that `serve` still loads only what it needs. Run by `npm run build`;
// dist/apps/cli/main.js loads it when it is current (core/startupBundle.ts).
//
// Why: `serve` loaded ~630 modules (fastify and its plugins, zod, pino, prom-client, our ~190)
// before it could listen, and the time went to finding, reading and compiling each one; `/readyz`
// waits for the listener as much as for the runtime thread (its own bundle: bundleRuntime.ts).
//
// Left outside (imported from node_modules as before): native addons, packages that find their
// own files on disk (piscina's and pino's worker scripts, the Swagger UI and static-file assets),
// node-llama-cpp (the runtime thread's), Electron and the TUI's React/Ink, and the cloud SDKs, which
// only some commands and routes load.
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { bannerLines, dist, keepFileUrls, root, sharedBuildOptions, writeManifest } from './bundleSupport.js';

const entry = path.join(dist, 'apps/cli/cli.js');
const outDir = path.join(dist, 'cli-bundle');

const external = [
  '*.node',
  'better-sqlite3',
  'better-sqlite3-napi',
  'sqlite3',
  'sqlite-vec',
  '@keyv/*',
  'keyv',
  'onnxruntime-node',
  '@huggingface/*',
  'node-llama-cpp',
  '@node-llama-cpp/*',
  'piscina',
  'pino',
  'thread-stream',
  '@fastify/swagger-ui',
  '@fastify/static',
  'electron',
  'ink',
  'ink-*',
  'react',
  'yoga-layout',
  'openai',
  '@anthropic-ai/*',
  '@aws-sdk/*',
  '@smithy/*',
  '@opentelemetry/*',
  'tsx',
];

const started = performance.now();
fs.rmSync(outDir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: [entry],
  outdir: outDir,
  ...sharedBuildOptions,
  // Chunks next to the entry: keepFileUrls computes each file's URL from the folder it lands in.
  chunkNames: 'chunk-[hash]',
  splitting: true,
  external,
  plugins: [keepFileUrls(outDir)],
  banner: { js: bannerLines.join('\n') },
});
writeManifest(outDir, entry, {});
const files = fs.readdirSync(outDir).filter((name) => name.endsWith('.js'));
const size = files.reduce((total, name) => total + fs.statSync(path.join(outDir, name)).size, 0);
console.log(`CLI bundle: ${path.relative(root, outDir)}/ (${files.length} files, ${(size / 1e6).toFixed(1)} MB) in ${(performance.now() - started).toFixed(0)} ms`);
