// The `llmsvc` command: commander over the command groups (commandModules.ts). main.ts loads it,
// bundled or not.
import { Command } from 'commander';
import { ConfigError } from '../../core/config/index.js';
import { registerCommands } from './commandModules.js';
import { packageVersion } from './version.js';

const program = new Command('llmsvc')
  .description('Self-hosted LLM API appliance: the OpenAI and Anthropic APIs over local models and upstream providers, with keys, quotas, a response cache, retrieval and metrics, for a whole team')
  .version(packageVersion(), '-v, --version')
  .showHelpAfterError("(add --help to see the commands and flags)");

registerCommands(program, process.argv.slice(2))
  .then(() => program.parseAsync(process.argv))
  .catch((error: unknown) => {
    const message = error instanceof ConfigError ? `Configuration error: ${error.message}` : (error as Error).message;
    process.stderr.write(`llmsvc: ${message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  });
