export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js';
export { configSchema, configKeys, defaultThreads, type Config, type ConfigInput } from './schema.js';
export { Secret } from './secret.js';
export * from './routing.js';
export type { ResolvedPool, ResolvedPoolMember, ResolvedProvider } from './schema.js';
