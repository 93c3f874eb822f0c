import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../../core/config/index.js';
import { listModelFiles } from '../../../core/runtimes/llama/modelFiles.js';
import { configuredFallbackModel, defaultModelId } from '../../../core/runtimes/localModels.js';

export { defaultModelId };

/** With no GGUF model in the models dir, llmsvc still serves the whole API offline (retrieval
 *  included: it embeds too): it generates a small random-weight model once into the data dir.
 *  Returns its path, or undefined when the user has models of their own (or turned it off). */
export async function ensureDefaultModel(config: Config): Promise<string | undefined> {
  const file = configuredFallbackModel(config);
  if (!file || listModelFiles(config.models_dir).length > 0) return undefined;
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // The generator loads only on a first start: every later start of serve skips it.
    const { synthesizeModel } = await import('../../../models/synth/index.js');
    await synthesizeModel({ outFile: file, preset: 'tiny', seed: 1, name: defaultModelId });
  }
  return file;
}
