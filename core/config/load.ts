import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configKeys, configSchema, defaultDataDir, type Config, type ConfigInput } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface LoadConfigOptions {
  /** Path of a JSON config file (also read from LLMSVC_CONFIG). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags; undefined entries are ignored. */
  flags?: Partial<Record<keyof ConfigInput, unknown>>;
}

function withoutUndefined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const key of configKeys) {
    const value = env[`LLMSVC_${key.toUpperCase()}`];
    if (value !== undefined && value !== '') values[key] = value;
  }
  return values;
}

function fromFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read config file ${file}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`Config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`Config file ${file} must hold a JSON object of settings.`);
  }
  return parsed as Record<string, unknown>;
}

function describeIssues(error: z.ZodError, source: string): string {
  return error.issues
    .map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `unknown setting ${issue.keys.map((key) => `"${key}"`).join(', ')} in ${source}; known settings: ${configKeys.join(', ')}`;
      }
      return `setting "${issue.path.join('.')}" in ${source}: ${issue.message}`;
    })
    .join('; ');
}

/** Reads the configuration once: defaults < config file < env (LLMSVC_*) < flags. Unknown keys are
 *  rejected with their name, and the result is frozen. This is the only reader of process.env. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.LLMSVC_CONFIG;
  const layers: [string, Record<string, unknown>][] = [
    ...(file ? [[`config file ${file}`, fromFile(file)] as [string, Record<string, unknown>]] : []),
    ['environment (LLMSVC_*)', fromEnv(env)],
    ['command-line flags', withoutUndefined(options.flags ?? {})],
  ];
  // Validate each layer alone first, so an error names where the bad value came from.
  for (const [source, values] of layers) {
    const result = configSchema.partial().strict().safeParse(values);
    if (!result.success) throw new ConfigError(describeIssues(result.error, source));
  }
  const merged = Object.assign({}, ...layers.map(([, values]) => values));
  const result = configSchema.safeParse(merged);
  if (!result.success) throw new ConfigError(describeIssues(result.error, 'configuration'));
  const dataDir = path.resolve(result.data.data_dir ?? env.LLMSVC_DATA_DIR ?? defaultDataDir(env));
  const modelsDir = path.resolve(result.data.models_dir ?? path.join(dataDir, 'models'));
  return Object.freeze({ ...result.data, data_dir: dataDir, models_dir: modelsDir });
}
