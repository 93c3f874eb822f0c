import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../../../core/config/index.js';
import { listModelFiles } from '../../../core/runtimes/index.js';
import { synthesizeModel } from '../../../models/synth/index.js';

export const defaultModelId = 'smoke-tiny';

/** With an empty models dir, llmsvc still serves the whole API offline: it generates a small
 *  random-weight model once into the data dir. Returns its path, or undefined when the user has
 *  models of their own (or turned the default off). */
export async function ensureDefaultModel(config: Config): Promise<string | undefined> {
  if (!config.default_model || listModelFiles(config.models_dir).length > 0) return undefined;
  const file = path.join(config.data_dir, 'default-models', `${defaultModelId}.gguf`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await synthesizeModel({ outFile: file, preset: 'tiny', seed: 1, name: defaultModelId });
  }
  return file;
}
