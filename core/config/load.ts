import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { configKeys, configSchema, defaultDataDir, type Config, type ConfigInput, type ParsedConfig, type ResolvedProvider } from './schema.js';
import { localProviderId } from './routing.js';
import { Secret } from './secret.js';
import { closestNames } from './suggest.js';

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
      if (issue.code === 'unrecognized_keys' && issue.path.length === 0) {
        const unknown = issue.keys.map((key) => {
          const suggestions = closestNames(key, configKeys);
          return `"${key}"${suggestions.length ? ` (did you mean ${suggestions.map((name) => `"${name}"`).join(' or ')}?)` : ''}`;
        });
        return `unknown setting ${unknown.join(', ')} in ${source}; known settings: ${configKeys.join(', ')}`;
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
  checkRoutes(result.data);
  const providers = result.data.providers.map((provider) => resolveProviderKey(provider, env));
  const dataDir = path.resolve(result.data.data_dir ?? env.LLMSVC_DATA_DIR ?? defaultDataDir(env));
  const modelsDir = path.resolve(result.data.models_dir ?? path.join(dataDir, 'models'));
  // The standard OpenTelemetry variable names the collector when the config does not.
  const otlpEndpoint = result.data.tracing.otlp_endpoint ?? (env.OTEL_EXPORTER_OTLP_ENDPOINT || undefined);
  const tracing = { ...result.data.tracing, ...(otlpEndpoint ? { otlp_endpoint: otlpEndpoint } : {}) };
  return Object.freeze({ ...result.data, providers, tracing, data_dir: dataDir, models_dir: modelsDir });
}

/** The vendor's usual variable, used when a provider names neither api_key_env nor api_key_file. */
const conventionalKeyEnv: Partial<Record<ResolvedProvider['type'], string>> = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY' };

function resolveProviderKey(provider: ParsedConfig['providers'][number], env: NodeJS.ProcessEnv): ResolvedProvider {
  const { pool, ...rest } = provider;
  const apiKey = resolveKey(`provider "${provider.id}"`, provider.api_key_env ?? conventionalKeyEnv[provider.type], provider, env);
  const resolved: ResolvedProvider = apiKey ? { ...rest, api_key: apiKey } : { ...rest };
  if (!pool) return resolved;
  const members = pool.members.map((member, index) => {
    const own = resolveKey(`member ${index} (${member.base_url}) of pool "${provider.id}"`, member.api_key_env, member, env);
    const key = own ?? apiKey;
    return key ? { base_url: member.base_url, api_key: key } : { base_url: member.base_url };
  });
  return { ...resolved, pool: { ...pool, members } };
}

/** An API key from a file, else from an env var (`variable`: the entry's api_key_env or the vendor's usual one). */
function resolveKey(where: string, variable: string | undefined, entry: { api_key_env?: string | undefined; api_key_file?: string | undefined }, env: NodeJS.ProcessEnv): Secret | undefined {
  if (entry.api_key_file) {
    let text: string;
    try {
      text = fs.readFileSync(entry.api_key_file, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`Cannot read the API key file of ${where} (${entry.api_key_file}): ${(error as Error).message}`);
    }
    if (!text) throw new ConfigError(`The API key file of ${where} (${entry.api_key_file}) is empty.`);
    return new Secret(text);
  }
  const value = variable ? env[variable] : undefined;
  if (entry.api_key_env && !value) {
    throw new ConfigError(`${where} reads its API key from ${entry.api_key_env}, which is not set. Set it, or remove api_key_env if the upstream needs no key.`);
  }
  return value ? new Secret(value) : undefined;
}

/** Providers have unique ids, routes unique model ids, and every target names a known provider. */
function checkRoutes(config: ParsedConfig): void {
  const providerIds = new Set<string>([localProviderId]);
  for (const provider of config.providers) {
    if (providerIds.has(provider.id)) throw new ConfigError(`Two providers have the id "${provider.id}"; give each a unique id.`);
    providerIds.add(provider.id);
  }
  const routeIds = new Set<string>();
  for (const route of config.routes) {
    if (routeIds.has(route.model)) throw new ConfigError(`Two routes are named "${route.model}"; give each a unique model id.`);
    routeIds.add(route.model);
    for (const target of route.targets) {
      if (!providerIds.has(target.provider)) {
        throw new ConfigError(
          `Route "${route.model}" names provider "${target.provider}", which is not configured; known providers: ${[...providerIds].join(', ')}.`,
        );
      }
    }
  }
}
