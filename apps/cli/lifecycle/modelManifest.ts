import fs from 'node:fs';
import path from 'node:path';
import type { ManifestFile } from './checksum.js';
import type { GgufSummary } from './modelInfo.js';

/** Written into the models dir by `models import` (and into an export dir by `models export`):
 *  what each model is and the checksum of each of its files, so doctor can re-check them. */
export const modelsManifestName = 'llmsvc-models.json';

export interface ModelEntry {
  id: string;
  kind: 'gguf' | 'onnx';
  files: ManifestFile[];
  gguf?: GgufSummary;
}

export interface ModelsManifest {
  format: 'llmsvc-models/1';
  models: ModelEntry[];
  /** All files of all models, flat (what verifyFiles checks). */
  files: ManifestFile[];
}

export function readModelsManifest(dir: string): ModelsManifest | undefined {
  const file = path.join(dir, modelsManifestName);
  if (!fs.existsSync(file)) return undefined;
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelsManifest;
  if (parsed.format !== 'llmsvc-models/1' || !Array.isArray(parsed.models)) throw new Error(`${file} is not an llmsvc models manifest`);
  parsed.files = parsed.models.flatMap((model) => model.files);
  return parsed;
}

export function writeModelsManifest(dir: string, models: ModelEntry[]): void {
  const manifest = { format: 'llmsvc-models/1', models: [...models].sort((a, b) => a.id.localeCompare(b.id)) };
  const target = path.join(dir, modelsManifestName);
  fs.writeFileSync(`${target}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  fs.renameSync(`${target}.tmp`, target);
}
