export { loadConfig, ConfigError, type LoadConfigOptions } from './load.js';
export { configSchema, configKeys, defaultThreads, type Config, type ConfigInput } from './schema.js';
