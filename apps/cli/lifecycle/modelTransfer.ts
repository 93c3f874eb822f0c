import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSafeRelative, sha256File, type ManifestFile } from './checksum.js';
import { listLocalModels, summarizeGguf } from './modelInfo.js';
import { modelsManifestName, readModelsManifest, writeModelsManifest, type ModelEntry } from './modelManifest.js';

export type Progress = (done: number, total: number) => void;

/** Copies to a temporary name beside the target and returns the copy's SHA-256 (hashed from the
 *  bytes written, so a bad read or a changed source shows). */
async function copyHashed(from: string, to: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(from), async function* (source) {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      hash.update(chunk);
      yield chunk;
    }
  }, fs.createWriteStream(to));
  return hash.digest('hex');
}

/** `models export ID… --out DIR`: the models' files and a manifest describing them. */
export async function exportModels(modelsDir: string, ids: string[], out: string, onProgress?: Progress): Promise<ModelEntry[]> {
  const available = listLocalModels(modelsDir);
  const chosen = ids.map((id) => {
    const model = available.find((m) => m.id === id);
    if (!model) throw new Error(`No model '${id}' in ${modelsDir}: the models there are ${available.map((m) => m.id).join(', ') || 'none'}.`);
    return model;
  });
  fs.mkdirSync(out, { recursive: true });
  const existing = readModelsManifest(out)?.models ?? [];
  const entries: ModelEntry[] = [];
  const total = chosen.reduce((sum, model) => sum + model.files.length, 0);
  let done = 0;
  for (const model of chosen) {
    const files: ManifestFile[] = [];
    for (const relative of model.files) {
      const target = path.join(out, relative);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      const partial = `${target}.partial`;
      const sha256 = await copyHashed(path.join(modelsDir, relative), partial);
      fs.renameSync(partial, target);
      files.push({ path: relative, size: fs.statSync(target).size, sha256 });
      onProgress?.(++done, total);
    }
    entries.push({ id: model.id, kind: model.kind, files, ...(model.kind === 'gguf' ? { gguf: await summarizeGguf(model.path) } : {}) });
  }
  writeModelsManifest(out, [...existing.filter((e) => !ids.includes(e.id)), ...entries]);
  return entries;
}

export interface ImportResult {
  imported: string[];
  unchanged: string[];
}

/** `models import DIR`: each model is copied under a temporary name, its copy checked against the
 *  manifest (size and SHA-256), and only then renamed into place; a model that fails is removed
 *  and named. The models dir's own manifest records what was imported (doctor re-checks it). */
export async function importModels(from: string, modelsDir: string, options: { force?: boolean; onProgress?: Progress } = {}): Promise<ImportResult> {
  const manifest = readModelsManifest(from);
  if (!manifest) throw new Error(`${from} has no ${modelsManifestName}: import a directory made by 'llmsvc models export'.`);
  fs.mkdirSync(modelsDir, { recursive: true });
  const result: ImportResult = { imported: [], unchanged: [] };
  let recorded = readModelsManifest(modelsDir)?.models ?? [];
  const total = manifest.files.length;
  let done = 0;
  for (const model of manifest.models) {
    if (!/^[\w.+-]+$/.test(model.id)) throw new Error(`The manifest names a model '${model.id}' that is not a plain file name: refused.`);
    for (const file of model.files) {
      const expectedPrefix = model.kind === 'gguf' ? `${model.id}.gguf` : `${model.id}/`;
      if (!isSafeRelative(file.path) || !(file.path === expectedPrefix || file.path.startsWith(expectedPrefix))) {
        throw new Error(`The manifest lists '${file.path}' for model '${model.id}': refused (paths must stay inside the model).`);
      }
    }
    const finalPath = path.join(modelsDir, model.kind === 'gguf' ? `${model.id}.gguf` : model.id);
    if (fs.existsSync(finalPath)) {
      const same = (await Promise.all(model.files.map(async (f) => {
        const p = path.join(modelsDir, f.path);
        return fs.existsSync(p) && fs.statSync(p).size === f.size && (await sha256File(p)) === f.sha256;
      }))).every(Boolean);
      if (same) {
        result.unchanged.push(model.id);
        done += model.files.length;
        continue;
      }
      if (!options.force) throw new Error(`${finalPath} exists and differs from the import: pass --force to replace it.`);
    }
    const staging = path.join(modelsDir, `.${model.id}.import-${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    try {
      for (const file of model.files) {
        const source = path.join(from, file.path);
        if (!fs.existsSync(source)) throw new Error(`${file.path} is missing from ${from}`);
        const staged = model.kind === 'gguf' ? staging : path.join(staging, file.path.slice(model.id.length + 1));
        fs.mkdirSync(path.dirname(staged), { recursive: true });
        const sha256 = await copyHashed(source, staged);
        const size = fs.statSync(staged).size;
        if (size !== file.size) throw new Error(`${file.path} has ${size} bytes, the manifest says ${file.size}: the export is truncated or changed`);
        if (sha256 !== file.sha256) throw new Error(`${file.path} does not match its SHA-256 in the manifest: the export is changed or corrupt`);
        options.onProgress?.(++done, total);
      }
      if (model.kind === 'gguf') await summarizeGguf(staging); // a valid header, or refuse
      fs.rmSync(finalPath, { recursive: true, force: true });
      fs.renameSync(staging, finalPath);
    } catch (error) {
      fs.rmSync(staging, { recursive: true, force: true });
      throw new Error(`Model '${model.id}' refused, nothing of it left in ${modelsDir}: ${(error as Error).message}.`);
    }
    result.imported.push(model.id);
    recorded = [...recorded.filter((e) => e.id !== model.id), model];
    writeModelsManifest(modelsDir, recorded);
  }
  return result;
}

// ---- pull -------------------------------------------------------------------------------------

export interface CatalogEntry {
  id: string;
  file: string;
  source_url: string;
  sha256?: string;
  size?: number;
  license: string;
  verified_from?: string;
}

/** models/catalog/*.json: from the source tree and from dist/ (three and four levels up). */
export function readCatalog(): CatalogEntry[] {
  for (const up of ['../../../models/catalog', '../../../../models/catalog']) {
    const dir = path.resolve(import.meta.dirname, up);
    if (!fs.existsSync(dir)) continue;
    return fs.readdirSync(dir).filter((name) => name.endsWith('.json')).sort()
      .map((name) => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as CatalogEntry);
  }
  return [];
}

export interface PullResult {
  file: string;
  bytes: number;
  sha256: string;
  resumedFrom: number;
  verified: boolean;
}

/** Downloads into `<to>/<file>.partial`, resuming from its size with an HTTP Range request, then
 *  checks the size and SHA-256 (when the catalog has them) and renames. Hand-written over fetch:
 *  node-llama-cpp's downloader pulls in ipull, which would reach for Hugging Face's API. */
export async function pullModel(idOrUrl: string, to: string, options: { catalog?: CatalogEntry[]; sha256?: string; onProgress?: Progress } = {}): Promise<PullResult> {
  const catalog = options.catalog ?? readCatalog();
  const entry = catalog.find((e) => e.id === idOrUrl) ?? catalog.find((e) => e.source_url === idOrUrl);
  let url: URL;
  if (entry) url = new URL(entry.source_url);
  else {
    try {
      url = new URL(idOrUrl);
    } catch {
      throw new Error(`'${idOrUrl}' is neither a catalog id (${catalog.map((e) => e.id).join(', ')}) nor a URL.`);
    }
  }
  const name = entry?.file ?? decodeURIComponent(path.basename(url.pathname));
  if (!isSafeRelative(name) || name.includes('/')) throw new Error(`Cannot derive a file name from ${url}.`);
  const expectedSha = options.sha256 ?? entry?.sha256;
  fs.mkdirSync(to, { recursive: true });
  const target = path.join(to, name);
  const partial = `${target}.partial`;
  const resumedFrom = fs.statSync(partial, { throwIfNoEntry: false })?.size ?? 0;
  const response = await fetch(url, { headers: resumedFrom > 0 ? { range: `bytes=${resumedFrom}-` } : {} });
  if (response.status === 416 && resumedFrom > 0) {
    // The partial file already holds every byte: fall through to verification.
  } else if (!response.ok || !response.body) {
    throw new Error(`GET ${url} answered ${response.status} ${response.statusText}: check the URL.`);
  }
  const append = response.status === 206;
  const start = append ? resumedFrom : 0;
  const length = Number(response.headers.get('content-length') ?? NaN);
  const total = response.status === 416 ? resumedFrom : Number.isFinite(length) ? start + length : (entry?.size ?? 0);
  if (response.status !== 416) {
    let done = start;
    const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    body.on('data', (chunk: Buffer) => options.onProgress?.((done += chunk.length), total));
    try {
      await pipeline(body, fs.createWriteStream(partial, { flags: append ? 'a' : 'w' }));
    } catch (error) {
      throw new Error(`The download of ${url} was interrupted at ${fs.statSync(partial).size} bytes (${(error as Error).message}): run the same command again to resume.`);
    }
  }
  const bytes = fs.statSync(partial).size;
  if (total > 0 && bytes < total) {
    throw new Error(`The download of ${url} stopped at ${bytes} of ${total} bytes: run the same command again to resume.`);
  }
  if (entry?.size !== undefined && bytes !== entry.size) {
    fs.rmSync(partial);
    throw new Error(`${name}: ${bytes} bytes, the catalog says ${entry.size}; the partial download was removed, run again.`);
  }
  const sha256 = await sha256File(partial);
  if (expectedSha && sha256 !== expectedSha) {
    fs.rmSync(partial);
    throw new Error(`${name}: SHA-256 ${sha256} does not match the catalog's ${expectedSha}; the download was removed. Check the source.`);
  }
  fs.renameSync(partial, target);
  return { file: target, bytes, sha256, resumedFrom: append ? resumedFrom : 0, verified: expectedSha !== undefined };
}
