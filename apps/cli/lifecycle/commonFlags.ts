import type { Command } from 'commander';
import { loadConfig, type Config } from '../../../core/config/index.js';

/** The options every lifecycle command shares with serve. */
export interface CommonFlags {
  dataDir?: string;
  modelsDir?: string;
  config?: string;
  json?: boolean;
}

export function withCommonOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data dir (env LLMSVC_DATA_DIR; default $XDG_DATA_HOME/llmsvc or ~/.local/share/llmsvc)')
    .option('--models-dir <dir>', 'models dir (env LLMSVC_MODELS_DIR; default <data-dir>/models)')
    .option('--config <file>', 'JSON config file (env LLMSVC_CONFIG)');
}

export function configFrom(flags: CommonFlags): Config {
  return loadConfig({ file: flags.config, flags: { data_dir: flags.dataDir, models_dir: flags.modelsDir } });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
