import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { adminKeyFile, KeyService, systemClock } from '../../../core/auth/index.js';
import { migrations } from '../../../core/store/migrations.js';
import { Database } from '../../../core/store/sqlite.js';
import { openStore } from '../../../core/store/index.js';
import type { Config } from '../../../core/config/index.js';
import { configFrom, printJson, withCommonOptions, type CommonFlags } from '../lifecycle/commonFlags.js';

/** The database's schema version, without migrating it (null: no database yet). */
async function databaseSchema(config: Config): Promise<number | null> {
  if (config.database_url !== undefined) {
    const [{ default: pg }, { postgresSchemaVersion }] = await Promise.all([import('pg'), import('../../../core/store/postgres/migrate.js')]);
    const client = new pg.Client({ connectionString: config.database_url });
    await client.connect();
    try {
      return (await postgresSchemaVersion(client)) || null;
    } finally {
      await client.end();
    }
  }
  const file = path.join(config.data_dir, 'llmsvc.sqlite');
  if (!fs.existsSync(file)) return null;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

export function registerMigrate(program: Command): void {
  withCommonOptions(program.command('migrate'))
    .description("Bring the data dir's database to this llmsvc's schema and create the admin key file if there is no admin key (install.sh runs it); refuses a database newer than this llmsvc")
    .option('--check', 'only check that this llmsvc can open the database (exit 1 if the database is newer)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: CommonFlags & { check?: boolean }) => {
      const config = configFrom(flags);
      const latest = migrations.at(-1)?.version ?? 0;
      const before = await databaseSchema(config);
      // Never the URL itself: it may hold a password.
      const where = config.database_url === undefined ? config.data_dir : 'the PostgreSQL database of database_url';
      if (before !== null && before > latest) {
        throw new Error(
          `The database in ${where} has schema version ${before}, newer than this llmsvc's ${latest}: it was upgraded by a newer llmsvc. ` +
            `Use that version, or restore a backup taken before the upgrade ('llmsvc restore').`,
        );
      }
      if (flags.check) {
        if (flags.json) printJson({ data_dir: config.data_dir, schema_version: before, llmsvc_schema_version: latest });
        else process.stdout.write(`This llmsvc (schema ${latest}) can open ${where} (schema ${before ?? 'none yet'}).\n`);
        return;
      }
      fs.mkdirSync(config.data_dir, { recursive: true, mode: 0o700 });
      const store = await openStore({ dataDir: config.data_dir, databaseUrl: config.database_url });
      let keyFile: string | undefined;
      try {
        keyFile = await new KeyService(store, systemClock).ensureAdminKey(config.admin_key, adminKeyFile(config.data_dir));
      } finally {
        await store.close();
      }
      if (flags.json) printJson({ data_dir: config.data_dir, schema_before: before, schema_version: latest, admin_key_file: keyFile ?? null });
      else {
        process.stdout.write(`Database in ${where} at schema version ${latest}${before !== null && before < latest ? ` (migrated from ${before})` : ''}.\n`);
        if (keyFile) process.stdout.write(`Created the admin key in ${keyFile} (readable only by its owner).\n`);
      }
    });
}
