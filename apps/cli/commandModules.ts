import type { Command } from 'commander';

type Register = (program: Command) => void;

/** Each group of top-level commands and the module that defines it, loaded only when needed:
 *  `llmsvc serve` must not pay for importing the SDKs, tar, Ink or the model generator that other
 *  commands use (importing every command module cost ~1 s of `serve`'s start-up, measured). */
const groups: { names: readonly string[]; load: () => Promise<Register> }[] = [
  { names: ['serve'], load: async () => (await import('./commands/serve.js')).registerServe },
  {
    names: ['models'],
    load: async () => {
      const [{ registerModels }, { registerModelTransfer }] = await Promise.all([import('./commands/models.js'), import('./commands/modelTransfer.js')]);
      return (program) => {
        registerModels(program);
        registerModelTransfer(program.commands.find((command) => command.name() === 'models')!);
      };
    },
  },
  { names: ['keys', 'quota', 'usage'], load: async () => (await import('./commands/governance.js')).registerGovernance },
  { names: ['rag'], load: async () => (await import('./commands/rag.js')).registerRag },
  { names: ['batch'], load: async () => (await import('./commands/batch.js')).registerBatch },
  { names: ['doctor'], load: async () => (await import('./commands/doctor.js')).registerDoctor },
  { names: ['backup', 'restore'], load: async () => (await import('./commands/backup.js')).registerBackup },
  { names: ['chat'], load: async () => (await import('./commands/chat.js')).registerChat },
  { names: ['top'], load: async () => (await import('./top/command.js')).registerTop },
  { names: ['migrate'], load: async () => (await import('./commands/migrate.js')).registerMigrate },
  { names: ['bundle'], load: async () => (await import('./commands/bundle.js')).registerBundle },
];

/** Registers the command that `args` (argv without node and the script) names, or every command
 *  when it names none of them: help, --version, a typo (commander then suggests the right name). */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const named = groups.find((group) => args[0] !== undefined && group.names.includes(args[0]));
  const registers = await Promise.all((named ? [named] : groups).map((group) => group.load()));
  for (const register of registers) register(program);
}
