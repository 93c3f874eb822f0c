import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createBlobStore, FileContents } from '../../../core/storage/index.js';
import { loadConfig } from '../../../core/config/index.js';
import { createRetrieval, type Retrieval } from '../../../core/jobs/index.js';
import pino from 'pino';
import { createMetrics } from '../../../core/metrics/index.js';
import { createLocalProviders } from '../../../core/providers/localProviders.js';
import { createRouter, type Router } from '../../../core/routing/index.js';
import { ingestionJobKind, type IngestionPayload } from '../../../core/rag/index.js';
import { openStore, type Store, type VectorStoreFileRecord } from '../../../core/store/index.js';
import { progressBar } from '../progress.js';
import { ensureDefaultModel } from './defaultModel.js';
import { formatTable } from '../table.js';

interface RagFlags {
  dataDir?: string;
  modelsDir?: string;
  json?: boolean;
}

export interface FoundFile {
  /** Where the file is on this machine (read, never stored). */
  file: string;
  /** The path from the given argument's parent down: `docs/guide/a.md` for `rag ingest ~/docs`.
   *  What the store records (attribute `path`): the ingesting machine's absolute paths stay here. */
  relative: string;
}

/** Every file under the given paths (directories are walked; dot-files and dot-dirs skipped). */
export function walkFiles(paths: string[]): FoundFile[] {
  const found: FoundFile[] = [];
  const visit = (entry: string, root: string) => {
    const stat = fs.statSync(entry);
    if (stat.isFile()) found.push({ file: entry, relative: path.relative(root, entry).split(path.sep).join('/') });
    else if (stat.isDirectory()) {
      for (const name of fs.readdirSync(entry).sort()) if (!name.startsWith('.')) visit(path.join(entry, name), root);
    }
  };
  for (const given of paths) {
    const absolute = path.resolve(given);
    visit(absolute, path.dirname(absolute));
  }
  return found;
}

async function withRetrieval<T>(flags: RagFlags, work: (retrieval: Retrieval, store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig({ flags: { data_dir: flags.dataDir, models_dir: flags.modelsDir } });
  // The same models as 'llmsvc serve' (on a fresh install: the built-in smoke-tiny, which embeds).
  await ensureDefaultModel(config);
  const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
  // The server's own router (local models and upstreams), started on first use: a re-run with
  // nothing new to index starts no runtime.
  let models: { router: Promise<Router>; firstEmbeddingModel: () => string | undefined } | undefined;
  const modelAccess = () =>
    (models ??= (() => {
      const providers = createLocalProviders(config, (line) => {
        if (line.level !== 'info') process.stderr.write(`${line.msg}\n`);
      });
      const router = createRouter(config, providers.local, pino({ level: 'warn' }, pino.destination(2)), createMetrics());
      return { router, firstEmbeddingModel: providers.firstEmbeddingModel };
    })());
  const retrieval = createRetrieval({
    store,
    contents: new FileContents(store, createBlobStore(config)),
    embed: async (model, inputs, signal) => (await modelAccess().router).embed({ model, inputs, signal }),
    defaultEmbeddingModel: config.default_embedding_model,
    firstLocalEmbeddingModel: () => modelAccess().firstEmbeddingModel(),
  });
  try {
    return await work(retrieval, store);
  } finally {
    await retrieval.dispose();
    if (models) await (await models.router).dispose();
    await store.close();
  }
}

/** The store's files that `rag ingest` added, by the path it recorded in their attributes. */
async function filesByPath(store: Store, storeId: string): Promise<Map<string, VectorStoreFileRecord>> {
  const byPath = new Map<string, VectorStoreFileRecord>();
  for (let page = await store.vectorStoreFiles.list(storeId, { limit: 100, order: 'asc' }); ; ) {
    for (const file of page.items) if (typeof file.attributes?.path === 'string') byPath.set(file.attributes.path, file);
    if (!page.hasMore) return byPath;
    page = await store.vectorStoreFiles.list(storeId, { limit: 100, order: 'asc', after: page.items.at(-1)!.fileId });
  }
}

/** Files of the store still being indexed, and how far their jobs got (a fraction per file). */
async function progressOf(store: Store, storeId: string, fileIds: string[]): Promise<{ finished: number; partial: number }> {
  let finished = 0;
  for (const id of fileIds) if ((await store.vectorStoreFiles.find(storeId, id))?.status !== 'in_progress') finished++;
  const partial = (await store.jobs.active(ingestionJobKind))
    .filter((job) => (job.payload as IngestionPayload).vectorStoreId === storeId && job.progressTotal)
    .reduce((sum, job) => sum + job.progressDone / job.progressTotal!, 0);
  return { finished, partial };
}

async function ingest(paths: string[], flags: RagFlags & { store: string; embeddingModel?: string }): Promise<void> {
  await withRetrieval(flags, async ({ vectorStores, files, runner }, store) => {
    const vectorStore =
      (await vectorStores.findStoreByName(flags.store)) ?? (await vectorStores.getStoreRecord((await vectorStores.createStore({ name: flags.store, embedding_model: flags.embeddingModel })).id));
    const all = walkFiles(paths);
    const supported = all.filter(({ file }) => vectorStores.supportsFile(file));
    for (const { file } of all.filter((found) => !supported.includes(found))) process.stderr.write(`skipped (type not supported): ${file}\n`);
    const previous = await filesByPath(store, vectorStore.id);
    const fileIds: string[] = [];
    let unchanged = 0;
    for (const { file, relative } of supported) {
      const content = fs.readFileSync(file);
      if (content.length === 0) {
        process.stderr.write(`skipped (empty): ${file}\n`);
        continue;
      }
      // Stores ingested before paths were recorded relative know the file by its absolute path.
      const before = previous.get(relative) ?? previous.get(file);
      if (before && before.status !== 'failed' && before.contentSha256 === createHash('sha256').update(content).digest('hex')) {
        unchanged++;
        continue;
      }
      // A changed file replaces its previous version.
      if (before) await files.delete(before.fileId);
      // The file's name only: citations and search results show it to every user of the store.
      const uploaded = await files.upload({ filename: path.basename(file), purpose: 'assistants', content });
      const attached = await vectorStores.attachFile(vectorStore.id, { file_id: uploaded.id, attributes: { path: relative } });
      // Content the store already holds is not indexed again: drop the new upload.
      if (attached.status === 'completed' && (await store.vectorStoreFiles.find(vectorStore.id, uploaded.id))?.duplicateOf) {
        await files.delete(uploaded.id);
        unchanged++;
        continue;
      }
      fileIds.push(uploaded.id);
    }
    runner.start();
    const bar = progressBar(`indexing ${fileIds.length} file(s) into '${flags.store}'`);
    for (;;) {
      const { finished, partial } = await progressOf(store, vectorStore.id, fileIds);
      bar.update(finished + partial, fileIds.length);
      if (finished === fileIds.length) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    bar.done();
    const results = await Promise.all(fileIds.map(async (id) => (await store.vectorStoreFiles.find(vectorStore.id, id))!));
    const failed = results.filter((file) => file.status === 'failed');
    for (const file of failed) process.stderr.write(`failed: ${(await store.files.find(file.fileId))?.filename}: ${file.lastError?.message}\n`);
    const summary = { vector_store_id: vectorStore.id, name: vectorStore.name, indexed: results.length - failed.length, failed: failed.length, unchanged };
    process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `${vectorStore.id} '${vectorStore.name}': ${summary.indexed} indexed, ${summary.failed} failed, ${unchanged} unchanged\n`);
    if (failed.length > 0) process.exitCode = 1;
  });
}

async function listStores(flags: RagFlags): Promise<void> {
  const config = loadConfig({ flags: { data_dir: flags.dataDir } });
  const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
  try {
    const rows = [];
    for (let page = await store.vectorStores.list({ limit: 100, order: 'asc' }); ; ) {
      for (const record of page.items) {
        const counts = await store.vectorStoreFiles.counts(record.id);
        rows.push({ id: record.id, name: record.name, embedding_model: record.embeddingModel, dimensions: record.dimensions, files: counts.total, completed: counts.completed, in_progress: counts.in_progress, failed: counts.failed, usage_bytes: counts.usageBytes });
      }
      if (!page.hasMore) break;
      page = await store.vectorStores.list({ limit: 100, order: 'asc', after: page.items.at(-1)!.id });
    }
    process.stdout.write(flags.json ? `${JSON.stringify(rows, null, 2)}\n` : rows.length === 0 ? "No vector stores. Create one with 'llmsvc rag ingest PATH --store NAME'.\n" : formatTable(rows, Object.keys(rows[0]!)));
  } finally {
    await store.close();
  }
}

export function registerRag(program: Command): void {
  const rag = program.command('rag').description('Retrieval: vector stores and their files (works on the data dir directly)');
  rag
    .command('ingest')
    .description('Index files and directories into a vector store (created if missing); unchanged files are skipped')
    .argument('<paths...>', 'files or directories (walked recursively)')
    .requiredOption('--store <name>', 'vector store name')
    .option('--embedding-model <id>', "embedding model of a new store, an id as GET /v1/models lists it (default: default_embedding_model, else the first ONNX model, else the first GGUF model: on a fresh install the built-in smoke-tiny)")
    .option('--data-dir <dir>', 'data dir (env LLMSVC_DATA_DIR)')
    .option('--models-dir <dir>', 'models dir (env LLMSVC_MODELS_DIR)')
    .option('--json', 'print JSON for scripts')
    .action((paths: string[], flags: RagFlags & { store: string; embeddingModel?: string }) => ingest(paths, flags));
  rag
    .command('stores')
    .description('List vector stores')
    .option('--data-dir <dir>', 'data dir (env LLMSVC_DATA_DIR)')
    .option('--json', 'print JSON for scripts')
    .action((flags: RagFlags) => listStores(flags));
}
