// Store.transaction on each engine: several repositories' writes commit together or not at all,
// concurrent transactions apply one after another, and (SQLite) work that waits on I/O is refused
// before it could let other writes into the open transaction.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SqliteStore, type FileRecord, type Store } from '../core/store/index.js';
import { PostgresStore } from '../core/store/postgres/store.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';
import { tempDir } from './support/server.js';

function file(id: string): FileRecord {
  return { id, filename: `${id}.txt`, bytes: 3, purpose: 'assistants', createdAt: 1_700_000_000, sha256: 'a'.repeat(64) };
}

/** The transaction contract, for one engine's store. */
export function transactionContract(engine: string, open: () => Promise<Store>): void {
  describe(`Store.transaction on ${engine}`, () => {
    let store: Store;
    const stores: Store[] = [];
    const opened = async () => {
      store = await open();
      stores.push(store);
      return store;
    };
    after(async () => {
      for (const each of stores) await each.close();
    });

    test('writes to several tables commit together', async () => {
      const store = await opened();
      const result = await store.transaction(async (tx) => {
        await tx.files.insert(file('file-a'), 'blob-a');
        await tx.jobs.enqueue('job-a', 'test.kind', { file: 'file-a' }, 1000);
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal((await store.files.find('file-a'))?.filename, 'file-a.txt');
      assert.deepEqual((await store.jobs.find('job-a'))?.payload, { file: 'file-a' });
    });

    test('a throw rolls every write back and reaches the caller', async () => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.files.insert(file('file-b'), 'blob-b');
          await tx.jobs.enqueue('job-b', 'test.kind', {}, 1000);
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.equal(await store.files.find('file-b'), undefined);
      assert.equal(await store.jobs.find('job-b'), undefined);
      // The store is usable afterwards.
      await store.transaction((tx) => tx.files.insert(file('file-c'), 'blob-c'));
      assert.ok(await store.files.find('file-c'));
    });

    test('concurrent transactions each see what the one before committed', async () => {
      await store.files.insert(file('counter'), 'blob-counter');
      // A read-modify-write of one row from 10 transactions at once: no update is lost.
      await Promise.all(
        Array.from({ length: 10 }, () =>
          store.transaction(async (tx) => {
            const current = (await tx.files.find('counter'))!;
            await tx.files.delete('counter');
            await tx.files.insert({ ...current, bytes: current.bytes + 1 }, 'blob-counter');
          }),
        ),
      );
      assert.equal((await store.files.find('counter'))?.bytes, 13);
    });
  });
}

transactionContract('SQLite', async () => SqliteStore.open(tempDir()));

let postgres: PostgresServer | undefined;
let databases = 0;
after(() => postgres?.stop());
transactionContract('PostgreSQL', async () => {
  postgres ??= await testPostgres();
  const url = await createDatabase(postgres.url, `llmsvc_transactions_${process.pid}_${databases++}`);
  return PostgresStore.open(url, tempDir());
});

describe('SqliteStore.transaction: one event-loop turn', () => {
  test('work that waits on I/O is refused and rolled back', async () => {
    const store = SqliteStore.open(tempDir());
    try {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.files.insert(file('file-io'), 'blob-io');
          await sleep(5);
        }),
        /waited on I\/O/,
      );
      assert.equal(await store.files.find('file-io'), undefined);
    } finally {
      store.dispose();
    }
  });
});
