import fs from 'node:fs';
import path from 'node:path';
import { ApiError } from '../../errors/index.js';

export interface ModelFile {
  /** The public model id: the file name without `.gguf`. */
  id: string;
  path: string;
  bytes: number;
  /** File modification time, unix seconds (OpenAI's `created`). */
  created: number;
}

/** Every `*.gguf` in the models dir is a model. Read on each call so that a model copied into the
 *  folder while the server runs is served without a restart. */
export function listModelFiles(modelsDir: string): ModelFile[] {
  let names: string[];
  try {
    names = fs.readdirSync(modelsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names
    .filter((name) => name.toLowerCase().endsWith('.gguf'))
    .sort()
    .flatMap((name) => modelFile(path.join(modelsDir, name)));
}

/** The model at one path: none if it is missing or not a regular file. */
export function modelFile(filePath: string): ModelFile[] {
  const stat = fs.statSync(filePath, { throwIfNoEntry: false });
  if (!stat?.isFile()) return [];
  const name = path.basename(filePath);
  return [{ id: name.slice(0, -'.gguf'.length), path: filePath, bytes: stat.size, created: Math.floor(stat.mtimeMs / 1000) }];
}

/** The models on offer: every `*.gguf` in the models dir, or, while it holds none, the fallback
 *  model (the generated smoke-tiny) — a user's real models always take precedence. */
export class ModelCatalog {
  constructor(
    private readonly modelsDir: string,
    private readonly fallbackModel?: string,
  ) {}

  list(): ModelFile[] {
    const files = listModelFiles(this.modelsDir);
    if (files.length > 0 || !this.fallbackModel) return files;
    return modelFile(this.fallbackModel);
  }

  find(id: string): ModelFile | undefined {
    return this.list().find((file) => file.id === id);
  }
}

export function modelNotFound(id: string): ApiError {
  return new ApiError(
    'LLMSVC_ERR_MODEL_NOT_FOUND',
    `The model '${id}' does not exist. List the available models with GET /v1/models, or add a GGUF file named '${id}.gguf' to the models dir.`,
    'model',
  );
}
