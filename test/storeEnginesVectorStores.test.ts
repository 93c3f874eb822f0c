// The vector stores' tables on SQLite and on PostgreSQL give the same results (core/store/ and
// core/store/postgres/): vector_stores, vector_store_files and ingest_embeddings, every method of
// their store interfaces, one contract run against both engines. Real SQLite file, real PostgreSQL
// (started by the test unless LLMSVC_TEST_DATABASE_URL names one).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { IngestEmbeddingRepository, VectorStoreFileRepository, VectorStoreRepository } from '../core/store/index.js';
import type { IngestEmbeddingStore } from '../core/store/ingestEmbeddings.js';
import type { PageOf } from '../core/store/pagination.js';
import { PostgresIngestEmbeddingRepository } from '../core/store/postgres/ingestEmbeddings.js';
import { inTransaction } from '../core/store/postgres/sql.js';
import { PostgresVectorStoreFileRepository } from '../core/store/postgres/vectorStoreFiles.js';
import { PostgresVectorStoreRepository } from '../core/store/postgres/vectorStores.js';
import type { VectorStoreFileRecord, VectorStoreFileStatus, VectorStoreFileStore } from '../core/store/vectorStoreFiles.js';
import type { VectorStoreRecord, VectorStoreStore } from '../core/store/vectorStores.js';
import { openBothEngines, sameOnBothEngines, type BothEngines } from './support/bothEngines.js';

interface Engine {
  name: string;
  stores: VectorStoreStore;
  files: VectorStoreFileStore;
  embeddings: IngestEmbeddingStore;
  /** Runs a statement of plain SQL that both engines take (no parameters). */
  exec(sql: string): Promise<void>;
}

let both: BothEngines;
let engines: [Engine, Engine];

function onBothEngines<T>(check: (engine: Engine) => Promise<T>): Promise<T> {
  return sameOnBothEngines(engines, check);
}

function vectorStore(n: number, overrides: Partial<VectorStoreRecord> = {}): VectorStoreRecord {
  return {
    id: `vs_${n}`,
    name: `störe ${n % 2} 📚`,
    description: n === 1 ? 'the "first" one' : null,
    embeddingModel: 'minilm',
    dimensions: 384,
    chunkingStrategy: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 },
    metadata: n === 2 ? { team: 'søk', tier: 'gold' } : null,
    expiresAfterDays: n === 3 ? 7 : null,
    lastActiveAt: 1_796_000_000 + n,
    // Equal creation times: order must come from insertion, not from created_at.
    createdAt: 1_796_000_000,
    ...overrides,
  };
}

function storeFile(storeId: string, n: number, overrides: Partial<VectorStoreFileRecord> = {}): VectorStoreFileRecord {
  return {
    vectorStoreId: storeId,
    fileId: `file-${n}`,
    status: 'in_progress',
    lastError: null,
    attributes: n % 2 === 0 ? { author: 'Ådne', year: 2024, draft: false } : null,
    chunkingStrategy: { max_chunk_size_tokens: 200 + n, chunk_overlap_tokens: 50 },
    contentSha256: `sha-${n % 3}`,
    duplicateOf: null,
    usageBytes: 1000 * n,
    createdAt: 1_796_000_000,
    ...overrides,
  };
}

const ids = <T extends { id: string }>(page: PageOf<T>) => ({ ids: page.items.map((item) => item.id), hasMore: page.hasMore });
const fileIds = (page: PageOf<VectorStoreFileRecord>) => ({ ids: page.items.map((item) => item.fileId), hasMore: page.hasMore });

describe('vector store tables: SQLite and PostgreSQL give the same results', () => {
  before(async () => {
    both = await openBothEngines('llmsvc_engines_vs');
    const { sqlite, pool } = both;
    engines = [
      {
        name: 'sqlite',
        stores: new VectorStoreRepository(sqlite),
        files: new VectorStoreFileRepository(sqlite),
        embeddings: new IngestEmbeddingRepository(sqlite),
        exec: async (sql) => void sqlite.exec(sql),
      },
      {
        name: 'postgres',
        stores: new PostgresVectorStoreRepository(pool),
        files: new PostgresVectorStoreFileRepository(pool),
        embeddings: new PostgresIngestEmbeddingRepository(pool),
        exec: async (sql) => void (await pool.query(sql)),
      },
    ];
  });
  after(async () => {
    await both.close();
  });

  test('vector stores: save and update, find, find by name, pages both ways, touch, modify, delete', async () => {
    const results = await onBothEngines(async ({ stores }) => {
      for (const n of [1, 2, 3, 4, 5]) await stores.save(vectorStore(n));
      // A save of an existing store changes only what a client may change.
      await stores.save(vectorStore(4, { name: 'renamed', description: 'now described', metadata: { a: '1' }, expiresAfterDays: 30, lastActiveAt: 1, dimensions: 9, embeddingModel: 'other', createdAt: 5 }));
      await stores.touch('vs_2', 1_800_000_000);
      const modified = await stores.modify('vs_3', (current) => ({ ...current, metadata: { changed: 'yes' }, expiresAfterDays: null }));
      const deleted = [await stores.delete('vs_5'), await stores.delete('vs_5')];
      return {
        found: [await stores.find('vs_1'), await stores.find('vs_2'), await stores.find('vs_3'), await stores.find('vs_4')],
        byName: [await stores.findByName('störe 1 📚'), await stores.findByName('störe 0 📚'), await stores.findByName('nope')],
        modified,
        deleted,
        pages: {
          firstAsc: ids(await stores.list({ limit: 2, order: 'asc' })),
          afterAsc: ids(await stores.list({ limit: 2, order: 'asc', after: 'vs_2' })),
          firstDesc: ids(await stores.list({ limit: 3, order: 'desc' })),
          afterDesc: ids(await stores.list({ limit: 3, order: 'desc', after: 'vs_3' })),
          beforeAsc: ids(await stores.list({ limit: 2, order: 'asc', before: 'vs_4' })),
          beforeDesc: ids(await stores.list({ limit: 2, order: 'desc', before: 'vs_1' })),
        },
        missing: [await stores.find('vs_5'), await stores.modify('vs_5', (current) => current)],
      };
    });
    assert.deepEqual(results.found, [
      vectorStore(1),
      vectorStore(2, { lastActiveAt: 1_800_000_000 }),
      vectorStore(3, { metadata: { changed: 'yes' }, expiresAfterDays: null }),
      vectorStore(4, { name: 'renamed', description: 'now described', metadata: { a: '1' }, expiresAfterDays: 30, lastActiveAt: 1 }),
    ]);
    assert.deepEqual(results.byName.map((store) => store?.id), ['vs_1', 'vs_2', undefined]);
    assert.deepEqual(results.modified, results.found[2]);
    assert.deepEqual(results.deleted, [true, false]);
    assert.deepEqual(results.pages, {
      firstAsc: { ids: ['vs_1', 'vs_2'], hasMore: true },
      afterAsc: { ids: ['vs_3', 'vs_4'], hasMore: false },
      firstDesc: { ids: ['vs_4', 'vs_3', 'vs_2'], hasMore: true },
      afterDesc: { ids: ['vs_2', 'vs_1'], hasMore: false },
      beforeAsc: { ids: ['vs_2', 'vs_3'], hasMore: true },
      beforeDesc: { ids: ['vs_3', 'vs_2'], hasMore: true },
    });
    assert.deepEqual(results.missing, [undefined, undefined]);
  });

  test('vector store files: upsert, find, indexed content, duplicates in order, stores holding, pages by status, counts, delete, cascade', async () => {
    const results = await onBothEngines(async ({ stores, files }) => {
      for (const n of [10, 11, 12]) await stores.save(vectorStore(n));
      const statuses: VectorStoreFileStatus[] = ['in_progress', 'completed', 'failed', 'cancelled', 'completed', 'completed'];
      for (let n = 1; n <= 6; n++) await files.save(storeFile('vs_10', n, { status: statuses[n - 1]! }));
      // file-4 has file-1's content (sha-1); file-7 and then file-5 are duplicates of file-2 (sha-2), saved out of file order.
      await files.save(storeFile('vs_10', 7, { contentSha256: 'sha-2', duplicateOf: 'file-2', status: 'completed' }));
      await files.save(storeFile('vs_10', 5, { duplicateOf: 'file-2', status: 'completed', lastError: null, usageBytes: 0 }));
      // An upsert changes status, last_error, attributes, duplicate_of and usage_bytes only.
      await files.save(storeFile('vs_10', 3, { status: 'failed', lastError: { code: 'invalid_file', message: 'bïnary ✗' }, attributes: { k: 'v' }, usageBytes: 0, contentSha256: 'other', createdAt: 1 }));
      await files.save(storeFile('vs_11', 2, { status: 'completed' }));
      await files.save(storeFile('vs_12', 2));
      await files.save(storeFile('vs_11', 1));
      const before = {
        file3: await files.find('vs_10', 'file-3'),
        file5: await files.find('vs_10', 'file-5'),
        indexed: [
          (await files.findIndexedContent('vs_10', 'sha-1'))?.fileId,
          (await files.findIndexedContent('vs_10', 'sha-2'))?.fileId,
          (await files.findIndexedContent('vs_10', 'sha-0'))?.fileId,
          await files.findIndexedContent('vs_10', 'nope'),
        ],
        duplicates: (await files.duplicates('vs_10', 'file-2')).map((file) => file.fileId),
        noDuplicates: await files.duplicates('vs_10', 'file-1'),
        holding: [await files.storesHolding('file-2'), await files.storesHolding('file-1'), await files.storesHolding('nope')],
        pages: {
          firstAsc: fileIds(await files.list('vs_10', { limit: 3, order: 'asc' })),
          afterAsc: fileIds(await files.list('vs_10', { limit: 3, order: 'asc', after: 'file-3' })),
          firstDesc: fileIds(await files.list('vs_10', { limit: 4, order: 'desc' })),
          beforeDesc: fileIds(await files.list('vs_10', { limit: 2, order: 'desc', before: 'file-3' })),
          beforeAsc: fileIds(await files.list('vs_10', { limit: 2, order: 'asc', before: 'file-5' })),
          completed: fileIds(await files.list('vs_10', { limit: 10, order: 'asc' }, 'completed')),
          completedAfter: fileIds(await files.list('vs_10', { limit: 1, order: 'desc', after: 'file-5' }, 'completed')),
          otherStore: fileIds(await files.list('vs_11', { limit: 10, order: 'asc' })),
        },
        counts: [await files.counts('vs_10'), await files.counts('vs_11'), await files.counts('vs_nope')],
      };
      const deleted = [await files.delete('vs_10', 'file-6'), await files.delete('vs_10', 'file-6')];
      const storeDeleted = await stores.delete('vs_11');
      return {
        before,
        deleted,
        storeDeleted,
        afterCascade: {
          holding: [await files.storesHolding('file-2'), await files.storesHolding('file-1')],
          gone: await files.find('vs_11', 'file-2'),
          counts: await files.counts('vs_11'),
          list: fileIds(await files.list('vs_11', { limit: 10, order: 'asc' })),
          kept: (await files.counts('vs_10')).total,
        },
      };
    });
    const { before } = results;
    assert.deepEqual(before.file3, storeFile('vs_10', 3, { status: 'failed', lastError: { code: 'invalid_file', message: 'bïnary ✗' }, attributes: { k: 'v' }, usageBytes: 0 }));
    assert.deepEqual(before.file5, storeFile('vs_10', 5, { status: 'completed', duplicateOf: 'file-2', usageBytes: 0 }));
    assert.deepEqual(before.indexed, ['file-1', 'file-2', 'file-6', undefined], 'failed files (file-3) and duplicates never hold indexed content');
    assert.deepEqual(before.duplicates, ['file-5', 'file-7'], 'duplicates in insertion order');
    assert.deepEqual(before.noDuplicates, []);
    assert.deepEqual(before.holding, [['vs_10', 'vs_11', 'vs_12'], ['vs_10', 'vs_11'], []]);
    assert.deepEqual(before.pages, {
      firstAsc: { ids: ['file-1', 'file-2', 'file-3'], hasMore: true },
      afterAsc: { ids: ['file-4', 'file-5', 'file-6'], hasMore: true },
      firstDesc: { ids: ['file-7', 'file-6', 'file-5', 'file-4'], hasMore: true },
      beforeDesc: { ids: ['file-5', 'file-4'], hasMore: true },
      beforeAsc: { ids: ['file-3', 'file-4'], hasMore: true },
      completed: { ids: ['file-2', 'file-5', 'file-6', 'file-7'], hasMore: false },
      completedAfter: { ids: ['file-2'], hasMore: false },
      otherStore: { ids: ['file-2', 'file-1'], hasMore: false },
    });
    assert.deepEqual(before.counts, [
      { in_progress: 1, completed: 4, failed: 1, cancelled: 1, total: 7, usageBytes: 1000 + 2000 + 4000 + 6000 + 7000 },
      { in_progress: 1, completed: 1, failed: 0, cancelled: 0, total: 2, usageBytes: 3000 },
      { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0, usageBytes: 0 },
    ]);
    assert.deepEqual(results.deleted, [true, false]);
    assert.equal(results.storeDeleted, true);
    assert.deepEqual(results.afterCascade, {
      holding: [['vs_10', 'vs_12'], ['vs_10']],
      gone: undefined,
      counts: { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: 0, usageBytes: 0 },
      list: { ids: [], hasMore: false },
      kept: 6,
    });
  });

  test('ingest embeddings: saved bit-exactly, replaced, loaded by chunk index, cleared, gone with their job', async () => {
    // Values whose bits a lossy path would change: -0, the smallest subnormal, the largest float32, NaN.
    const special = new Float32Array([0.1, -0, 1e-45, 3.4028234663852886e38, Math.PI, Number.NaN, -1.5, 65_504.5]);
    const other = new Float32Array(384).map((_, i) => Math.sin(i) / (i + 1));
    // A view at an offset into a larger buffer: only its own bytes are stored.
    const view = new Float32Array(new Float32Array([9, 8, 7, 6, 5]).buffer, 4, 3);
    const bytesOf = (loaded: Map<number, Float32Array>) => [...loaded].map(([index, vector]) => [index, Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('hex')]);
    const job = (id: string) => `INSERT INTO jobs (id, kind, payload, state, created_at, updated_at) VALUES ('${id}', 'ingest', '{}', 'running', 1, 1)`;
    const results = await onBothEngines(async ({ embeddings, exec }) => {
      await exec(job('job-a'));
      await exec(job('job-b'));
      await embeddings.save('job-a', 2, other);
      await embeddings.save('job-a', 0, new Float32Array([1, 2, 3]));
      await embeddings.save('job-a', 0, special); // replaces
      await embeddings.save('job-a', 1, view);
      await embeddings.save('job-b', 0, other);
      const loaded = bytesOf(await embeddings.load('job-a'));
      const firstIsFloat32 = (await embeddings.load('job-a')).get(0) instanceof Float32Array;
      await embeddings.clear('job-a');
      const cleared = bytesOf(await embeddings.load('job-a'));
      const beforeJobDelete = (await embeddings.load('job-b')).size;
      await exec(`DELETE FROM jobs WHERE id = 'job-b'`);
      return { loaded, firstIsFloat32, cleared, beforeJobDelete, afterJobDelete: bytesOf(await embeddings.load('job-b')), none: bytesOf(await embeddings.load('nope')) };
    });
    const hex = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('hex');
    assert.deepEqual(results.loaded, [
      [0, hex(special)],
      [1, hex(new Float32Array([8, 7, 6]))],
      [2, hex(other)],
    ]);
    assert.equal(results.firstIsFloat32, true);
    assert.deepEqual(results.cleared, []);
    assert.equal(results.beforeJobDelete, 1);
    assert.deepEqual(results.afterJobDelete, []);
    assert.deepEqual(results.none, []);
  });

  test('PostgreSQL: repositories on a client join the caller\'s transaction; modify locks the row until commit', async () => {
    const { pool } = both;
    const stores = new PostgresVectorStoreRepository(pool);
    await stores.save(vectorStore(20));
    // Rolled back with the caller's transaction: the save, the modify and the file.
    await assert.rejects(
      inTransaction(pool, async (client) => {
        await new PostgresVectorStoreRepository(client).modify('vs_20', (current) => ({ ...current, name: 'inside' }));
        await new PostgresVectorStoreFileRepository(client).save(storeFile('vs_20', 1));
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal((await stores.find('vs_20'))?.name, vectorStore(20).name);
    assert.equal(await new PostgresVectorStoreFileRepository(pool).find('vs_20', 'file-1'), undefined);
    // Two concurrent modifies: the second waits for the first's row lock and sees its result.
    const order: string[] = [];
    let releaseFirst!: () => void;
    const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstLocked!: () => void;
    const locked = new Promise<void>((resolve) => (firstLocked = resolve));
    const first = inTransaction(pool, async (client) => {
      await new PostgresVectorStoreRepository(client).modify('vs_20', (current) => {
        order.push('first');
        return { ...current, metadata: { n: '1' } };
      });
      firstLocked();
      await firstHolds;
    });
    await locked;
    const second = stores.modify('vs_20', (current) => {
      order.push(`second saw ${current.metadata?.n}`);
      return { ...current, metadata: { n: `${Number(current.metadata?.n) + 1}` } };
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(order, ['first'], 'the second modify waits for the row lock');
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first', 'second saw 1']);
    assert.deepEqual((await stores.find('vs_20'))?.metadata, { n: '2' });
  });
});
