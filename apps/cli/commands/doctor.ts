import type { Command } from 'commander';
import { runDoctor } from '../lifecycle/doctor.js';
import { printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';

const marks = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;

export function registerDoctor(program: Command): void {
  withCommonOptions(program.command('doctor'))
    .description('Check this install: Node.js, native modules, llama.cpp backend and GPU memory, RAM and disk, permissions, config, port, models, database, clock (exit 1 on any failure)')
    .option('--host <host>', 'address serve binds (env LLMSVC_HOST)')
    .option('--port <port>', 'port serve listens on (env LLMSVC_PORT)')
    .option('--json', 'print JSON for scripts')
    .action(async (flags: CommonFlags & { host?: string; port?: string }) => {
      const report = await runDoctor(flags);
      if (flags.json) printJson(report);
      else {
        for (const check of report.checks) process.stdout.write(`${marks[check.status]}  ${check.name.padEnd(26)} ${check.message}\n`);
        process.stdout.write(report.ok ? 'All checks passed.\n' : 'Some checks failed: see the FAIL lines above.\n');
      }
      process.exitCode = report.ok ? 0 : 1;
    });
}
