import type { Command } from 'commander';
import { createKeySchema, keyView, KeyService, systemClock, updateKeySchema, utcDay } from '../../../core/auth/index.js';
import { loadConfig } from '../../../core/config/index.js';
import { parseBody } from '../../../core/server/validation.js';
import { openStore, type Store } from '../../../core/store/index.js';
import { formatTable } from '../table.js';

const keyColumns = ['id', 'name', 'prefix', 'scope', 'models', 'rpm', 'tpm', 'max_concurrent', 'daily_tokens', 'monthly_tokens', 'expires_at', 'cache', 'disabled', 'revoked'];

interface StoreFlags {
  dataDir?: string;
  json?: boolean;
}

/** Opens the data dir's database directly, so the verbs work with or without a running server
 *  (SQLite's WAL mode lets both write). */
async function withKeys<T>(flags: StoreFlags, work: (keys: KeyService, store: Store) => Promise<T>): Promise<T> {
  const config = loadConfig({ flags: { data_dir: flags.dataDir } });
  const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
  try {
    return await work(new KeyService(store, systemClock), store);
  } finally {
    await store.close();
  }
}

function print(flags: StoreFlags, json: unknown, text: string): void {
  process.stdout.write(flags.json ? `${JSON.stringify(json, null, 2)}\n` : text);
}

/** A limit flag: a whole number, or "none" to remove the limit. */
function limitValue(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new Error(`'${value}' is not a limit: give a positive whole number, or 'none'.`);
  return number;
}

/** An on/off setting given as `true` or `false` (so `quota set` can turn it off again). */
function booleanValue(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new Error(`'${value}' is not a yes/no value: give 'true' or 'false'.`);
}

function expiresValue(value: string | undefined): number | string | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'never') return null;
  return /^\d+$/.test(value) ? Number(value) : value;
}

interface LimitFlags {
  rpm?: string;
  tpm?: string;
  maxConcurrent?: string;
  dailyTokens?: string;
  monthlyTokens?: string;
  expiresAt?: string;
  models?: string;
}

function limitFields(flags: LimitFlags) {
  return {
    rpm: limitValue(flags.rpm),
    tpm: limitValue(flags.tpm),
    max_concurrent: limitValue(flags.maxConcurrent),
    daily_tokens: limitValue(flags.dailyTokens),
    monthly_tokens: limitValue(flags.monthlyTokens),
    expires_at: expiresValue(flags.expiresAt),
    models: flags.models?.split(',').map((model) => model.trim()).filter(Boolean),
  };
}

function withLimitOptions(command: Command): Command {
  return command
    .option('--models <patterns>', "comma-separated model ids or patterns with '*' (default: all)")
    .option('--rpm <n>', "requests per minute ('none': no limit)")
    .option('--tpm <n>', "tokens per minute: prompt plus max_tokens reserved, settled to actual use ('none': no limit)")
    .option('--max-concurrent <n>', "requests at a time ('none': no limit)")
    .option('--daily-tokens <n>', "tokens per UTC day ('none': no limit)")
    .option('--monthly-tokens <n>', "tokens per UTC month ('none': no limit)")
    .option('--expires-at <when>', "ISO date or time, unix seconds, or 'never'");
}

function withStoreOptions(command: Command): Command {
  return command.option('--data-dir <dir>', 'data dir of the server (env LLMSVC_DATA_DIR)').option('--json', 'print JSON for scripts');
}

export function registerGovernance(program: Command): void {
  const keys = program.command('keys').description('Manage API keys (stored hashed; a secret is shown once)');

  withStoreOptions(withLimitOptions(keys.command('create').description('Create a key and print its secret once')))
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scope <scope>', 'user | admin', 'user')
    .option('--cache', "cache answers to this key's requests even when sampling is random (temperature above 0, no seed)")
    .action((flags: StoreFlags & LimitFlags & { name: string; scope: string; cache?: boolean }) => {
      const input = parseBody(createKeySchema, { name: flags.name, scope: flags.scope, cache: flags.cache === true, ...definedOnly(limitFields(flags)) });
      return withKeys(flags, async (service) => {
        const { key, secret } = await service.create(input);
        print(flags, { ...keyView(key), key: secret }, `${formatTable([keyView(key)], keyColumns)}\nSecret (shown once, store it now): ${secret}\n`);
      });
    });

  withStoreOptions(keys.command('list').description('List keys')).action((flags: StoreFlags) =>
    withKeys(flags, async (service) => {
      const views = (await service.list()).map(keyView);
      print(flags, views, formatTable(views, keyColumns));
    }),
  );

  withStoreOptions(keys.command('show <id>').description('Show one key')).action((id: string, flags: StoreFlags) =>
    withKeys(flags, async (service) => {
      const view = keyView(await service.get(id));
      print(flags, view, formatTable([view], keyColumns));
    }),
  );

  withStoreOptions(keys.command('revoke <id>').description('Revoke a key: it stops working at once')).action((id: string, flags: StoreFlags) =>
    withKeys(flags, async (service) => {
      const view = keyView(await service.revoke(id));
      print(flags, view, `Revoked ${view.id} (${view.name}).\n`);
    }),
  );

  withStoreOptions(keys.command('rotate <id>').description('Give a key a new secret; the old one stops working')).action((id: string, flags: StoreFlags) =>
    withKeys(flags, async (service) => {
      const { key, secret } = await service.rotate(id);
      print(flags, { ...keyView(key), key: secret }, `Rotated ${key.id} (${key.name}).\nNew secret (shown once, store it now): ${secret}\n`);
    }),
  );

  const quota = program.command('quota').description("Change a key's limits and quotas");
  withStoreOptions(withLimitOptions(quota.command('set <id>').description('Set limits; flags not given stay as they are')))
    .option('--cache <on>', "true: cache answers to this key's requests even when sampling is random; false: only deterministic ones")
    .action((id: string, flags: StoreFlags & LimitFlags & { cache?: string }) => {
      const patch = parseBody(updateKeySchema, definedOnly({ ...limitFields(flags), cache: booleanValue(flags.cache) }));
      return withKeys(flags, async (service) => {
        const view = keyView(await service.update(id, patch));
        print(flags, view, formatTable([view], keyColumns));
      });
    });

  withStoreOptions(program.command('usage').description('Usage per key, model and UTC day'))
    .option('--key <id>', 'only this key')
    .option('--from <day>', 'first day, YYYY-MM-DD (default: all)')
    .option('--to <day>', 'last day, YYYY-MM-DD (default: today)')
    .action((flags: StoreFlags & { key?: string; from?: string; to?: string }) =>
      withKeys(flags, async (_service, store) => {
        const rows = await store.usage.range(flags.key ?? null, flags.from ?? '0000-01-01', flags.to ?? utcDay(Date.now()));
        const views = rows.map((row) => ({
          day: row.day,
          key_id: row.keyId,
          model: row.model,
          requests: row.requests,
          prompt_tokens: row.promptTokens,
          completion_tokens: row.completionTokens,
          total_tokens: row.promptTokens + row.completionTokens,
          errors: row.errors,
        }));
        print(flags, views, views.length ? formatTable(views, Object.keys(views[0]!)) : 'No usage recorded yet.\n');
      }),
    );
}

function definedOnly<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as Partial<T>;
}
