import path from 'node:path';
import { GgufFileType, readGgufFileInfo } from 'node-llama-cpp';
import { listLocalModels as listServedModels } from '../../../core/runtimes/index.js';
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

/** The models dir's models as the server lists them (core's listing; the generated default model
 *  is not a file of this folder, so it is left out), with the files that make up each. */
export function listLocalModels(modelsDir: string): LocalModel[] {
  return listServedModels({ models_dir: modelsDir, data_dir: modelsDir, default_model: false }, undefined)
    .map((model) => ({
      id: model.id,
      kind: model.format,
      path: model.path,
      files: model.format === 'gguf' ? [path.basename(model.path)] : listFilesRecursive(model.path).map((file) => `${model.id}/${file}`),
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}
