import type { Config } from '../../../config/index.js';

/** A base URL without user info, query or fragment: those are where credentials hide. */
export function redactUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  try {
    const url = new URL(raw);
    if (url.username || url.password) {
      url.username = 'redacted';
      url.password = '';
    }
    if (url.search) url.search = '?redacted';
    url.hash = '';
    return url.toString();
  } catch {
    return '[unparseable URL]';
  }
}

/** The routing part of the config as the console shows it (read-only): providers without their
 *  API keys (only whether one is set, and where it comes from), and the routes. */
export function routingView(config: Config) {
  return {
    object: 'routing_config',
    offline: config.offline,
    egress_allowlist: config.egress_allowlist ?? null,
    providers: config.providers.map((provider) => ({
      id: provider.id,
      type: provider.type,
      base_url: redactUrl(provider.base_url),
      ...(provider.pool ? { pool_members: provider.pool.members.map((member) => redactUrl(member.base_url)) } : {}),
      models: provider.models ?? [],
      api_key: provider.api_key ? 'set' : 'not set',
      api_key_source: provider.api_key_env ? `env ${provider.api_key_env}` : provider.api_key_file ? 'file' : provider.api_key ? 'vendor default env' : null,
      resilience: provider.resilience,
    })),
    routes: config.routes.map((route) => ({ ...route })),
  };
}

/** What the Settings page shows about the server. */
export function serverView(config: Config, version: string) {
  return {
    object: 'server_info',
    version,
    host: config.host,
    auth: config.auth,
    data_dir: config.data_dir,
    models_dir: config.models_dir,
    max_loaded_models: config.max_loaded_models,
    parallel: config.parallel,
    context_size: config.context_size,
    cache: config.cache,
    log_prompts: config.log_prompts,
    offline: config.offline,
    node: process.version,
  };
}
