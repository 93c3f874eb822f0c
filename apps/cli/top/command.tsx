import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../../core/config/index.js';
import { AdminAuthError, AdminClient, AdminConnectionError } from './adminClient.js';
import { themeFor } from './theme.js';

interface TopFlags {
  url?: string;
  adminKeyFile?: string;
  dataDir?: string;
  once?: boolean;
  json?: boolean;
}

/** A one-sentence failure: printed on stderr, exit code 1, no stack trace. */
class TopFailure extends Error {}

/** The admin key: --admin-key-file when given (an explicit flag wins), else LLMSVC_ADMIN_KEY,
 *  else `<data-dir>/admin.key` when readable. */
function adminKey(flags: TopFlags, envKey: string | undefined, dataDir: string): string {
  const read = (file: string) => fs.readFileSync(file, 'utf8').trim();
  if (flags.adminKeyFile) {
    try {
      return read(flags.adminKeyFile);
    } catch (error) {
      throw new TopFailure(`Cannot read the admin key file ${flags.adminKeyFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`);
    }
  }
  if (envKey) return envKey;
  try {
    return read(path.join(dataDir, 'admin.key'));
  } catch {
    throw new TopFailure(
      `No admin key: set LLMSVC_ADMIN_KEY, pass --admin-key-file FILE, or run llmsvc top where ${path.join(dataDir, 'admin.key')} is readable.`,
    );
  }
}

function defaultUrl(host: string, port: number): string {
  // A server bound to every interface is reached on loopback from this machine.
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

// Alternate screen and a hidden cursor while the UI runs; both restored on exit, so the shell
// looks as it did before.
const enterScreen = '\x1b[?1049h\x1b[?25l';
const leaveScreen = '\x1b[?25h\x1b[?1049l';

async function top(flags: TopFlags): Promise<void> {
  const config = loadConfig({ flags: { data_dir: flags.dataDir } });
  const client = new AdminClient((flags.url ?? defaultUrl(config.host, config.port)).replace(/\/+$/, ''), adminKey(flags, config.admin_key, config.data_dir));

  if (flags.once) {
    const snapshot = await client.stats().catch((error: unknown) => {
      if (error instanceof AdminAuthError || error instanceof AdminConnectionError) throw new TopFailure(error instanceof AdminConnectionError ? `Cannot reach the llmsvc server: ${error.message}.` : error.message);
      throw error;
    });
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(snapshot, null, 2)}\n`);
    } else {
      const { totals } = snapshot;
      process.stdout.write(
        `llmsvc ${snapshot.version} at ${client.baseUrl}, up ${snapshot.uptime_s} s: ${totals.requests_per_s} requests/s, ${totals.completion_tokens_per_s} completion tokens/s, ${totals.active_requests} active\n` +
          snapshot.models.map((model) => `  ${model.id}: ${model.state}, ${model.active} active, ${model.decode_tps} tok/s\n`).join(''),
      );
    }
    return;
  }

  if (!process.stdout.isTTY || !process.stdin.isTTY) {
    throw new TopFailure('llmsvc top needs an interactive terminal; for scripts, `llmsvc top --once --json` prints one snapshot as JSON.');
  }

  // A wrong key is one sentence before the screen is taken over; an unreachable server is not
  // fatal (the UI shows "reconnecting…" until it is up).
  await client.stats().catch((error: unknown) => {
    if (error instanceof AdminAuthError) throw new TopFailure(error.message);
  });

  // Ink reads CI when it is imported and then draws only the final frame (its CI mode). top runs on
  // a terminal here (checked above), so a CI variable inherited from the shell must not leave the
  // screen blank. Ink and the views load only now, which also keeps them out of every other
  // command's start-up.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const [{ render }, { App }] = await Promise.all([import('ink'), import('./App.js')]);

  let exitCode = 0;
  let exitMessage: string | undefined;
  process.stdout.write(enterScreen);
  const restore = () => process.stdout.write(leaveScreen);
  process.once('exit', restore);
  const instance = render(
    <App
      client={client}
      theme={themeFor(process.env)}
      onExit={(code, message) => {
        exitCode = code;
        exitMessage = message;
      }}
    />,
    { exitOnCtrlC: true },
  );
  // Killed or hung up on: leave the screen as it was, as q does.
  const stop = () => instance.unmount();
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop);
  await instance.waitUntilExit();
  instance.cleanup();
  process.removeListener('exit', restore);
  restore();
  if (exitMessage) process.stderr.write(`llmsvc: ${exitMessage}\n`);
  process.exit(exitCode);
}

export function registerTop(program: Command): void {
  program
    .command('top')
    .description('Live terminal dashboard of a running server: models, keys, jobs, requests (admin API)')
    .option('--url <url>', 'the server (default: http://<host>:<port> from the config)')
    .option('--admin-key-file <file>', 'a file holding the admin key (default: LLMSVC_ADMIN_KEY, else <data-dir>/admin.key)')
    .option('--data-dir <dir>', 'the data dir, where admin.key is looked for')
    .option('--once', 'print one snapshot and exit (no terminal needed)')
    .option('--json', 'with --once: the snapshot as JSON (GET /admin/v1/stats)')
    .action(async (flags: TopFlags) => {
      try {
        await top(flags);
      } catch (error) {
        if (!(error instanceof TopFailure)) throw error;
        process.stderr.write(`llmsvc: ${error.message}\n`);
        process.exit(1);
      }
    });
}
