#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError } from '../../core/config/index.js';
import { registerBatch } from './commands/batch.js';
import { registerBackup } from './commands/backup.js';
import { registerBundle } from './commands/bundle.js';
import { registerDoctor } from './commands/doctor.js';
import { registerChat } from './commands/chat.js';
import { registerGovernance } from './commands/governance.js';
import { registerMigrate } from './commands/migrate.js';
import { registerModels } from './commands/models.js';
import { registerModelTransfer } from './commands/modelTransfer.js';
import { registerRag } from './commands/rag.js';
import { registerServe } from './commands/serve.js';
import { registerTop } from './top/command.js';
import { packageVersion } from './version.js';

const program = new Command('llmsvc')
  .description('Self-hosted LLM API appliance: the OpenAI and Anthropic APIs over local models and upstream providers, with keys, quotas, a response cache, retrieval and metrics, for a whole team')
  .version(packageVersion(), '-v, --version')
  .showHelpAfterError("(add --help to see the commands and flags)");

registerServe(program);
registerModels(program);
registerModelTransfer(program.commands.find((command) => command.name() === 'models')!);
registerGovernance(program);
registerRag(program);
registerBatch(program);
registerDoctor(program);
registerBackup(program);
registerChat(program);
registerTop(program);
registerMigrate(program);
registerBundle(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof ConfigError ? `Configuration error: ${error.message}` : (error as Error).message;
  process.stderr.write(`llmsvc: ${message}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
});
