import fs from 'node:fs';
import path from 'node:path';
import { GgufFileType, readGgufFileInfo } from 'node-llama-cpp';
import { listFilesRecursive } from './checksum.js';

/** What a model is, from its GGUF header (node-llama-cpp's reader: it reads the header and tensor
 *  infos only, never the weights). */
export interface GgufSummary {
  architecture: string;
  parameters: number;
  quantization: string;
  context_length: number | null;
}

export async function summarizeGguf(file: string): Promise<GgufSummary> {
  const info = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false });
  const general = info.metadata.general as { architecture?: string; file_type?: number };
  const parameters = (info.fullTensorInfo ?? info.tensorInfo ?? []).reduce(
    (sum, tensor) => sum + tensor.dimensions.reduce<number>((product, dim) => product * Number(dim), 1),
    0,
  );
  const contextLength = (info.architectureMetadata as { context_length?: number } | undefined)?.context_length;
  return {
    architecture: general.architecture ?? 'unknown',
    parameters,
    quantization: general.file_type === undefined ? 'unknown' : (GgufFileType[general.file_type] ?? `file_type ${general.file_type}`),
    context_length: contextLength ?? null,
  };
}

/** A model on disk: a `<id>.gguf` file or an ONNX model dir `<id>/model.onnx`. */
export interface LocalModel {
  id: string;
  kind: 'gguf' | 'onnx';
  /** The .gguf file, or the ONNX model's directory. */
  path: string;
  /** Files relative to the models dir ('<id>.gguf', or '<id>/…'). */
  files: string[];
}

export function listLocalModels(modelsDir: string): LocalModel[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(modelsDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const models: LocalModel[] = [];
  for (const entry of entries) {
    const full = path.join(modelsDir, entry.name);
    if (entry.isFile() && entry.name.toLowerCase().endsWith('.gguf')) {
      models.push({ id: entry.name.slice(0, -'.gguf'.length), kind: 'gguf', path: full, files: [entry.name] });
    } else if (entry.isDirectory() && fs.existsSync(path.join(full, 'model.onnx'))) {
      models.push({ id: entry.name, kind: 'onnx', path: full, files: listFilesRecursive(full).map((file) => `${entry.name}/${file}`) });
    }
  }
  return models.sort((a, b) => a.id.localeCompare(b.id));
}
