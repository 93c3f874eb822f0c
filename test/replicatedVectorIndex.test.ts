// The vector index across nodes (core/store/postgres/vectorIndex.ts): writes go to an ordered log on
// PostgreSQL inside the writer's transaction; each node replays it into its own SQLite copy before
// a read. Two or three "nodes" here are two or three local SQLite files on one real PostgreSQL
// (started by the test unless LLMSVC_TEST_DATABASE_URL names one). A plain SqliteVectorIndex given
// the same writes directly is the reference every node must match exactly.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { openPostgresPool } from '../core/store/postgres/pool.js';
import { inTransaction } from '../core/store/postgres/sql.js';
import { ReplicatedVectorIndex } from '../core/store/postgres/vectorIndex.js';
import { PostgresVectorStoreRepository } from '../core/store/postgres/vectorStores.js';
import { Database, type Database as Db } from '../core/store/sqlite.js';
import { seededRandom } from '../core/store/vectors/seededRandom.js';
import { SqliteVectorIndex, type SqliteVectorIndexOptions } from '../core/store/vectors/SqliteVectorIndex.js';
import type { Attributes, ChunkInput, IndexOptions, SearchQuery, VectorIndexWriter } from '../core/store/vectors/types.js';
import { createDatabase, testPostgres, type PostgresServer } from './support/postgres.js';
import { tempDir } from './support/server.js';

const dimensions = 16;
/** Every node's copy and the reference are built alike (as every node of a deployment must be):
 *  partitioned stores train from 64 chunks, so that the test reaches a trained store quickly. */
const indexOptions: SqliteVectorIndexOptions = { ivf: { minTrainingRows: 64, nprobe: 2, coarseProbe: 2 } };
const plain: IndexOptions = { dimensions, quantization: 'none' };
const partitioned: IndexOptions = { dimensions, quantization: 'int8', partitioning: 'ivf' };

interface Node {
  file: string;
  db: Db;
  index: ReplicatedVectorIndex;
}

let server: PostgresServer;
let pool: pg.Pool;
const dir = tempDir('llmsvc-replicas-');
const nodes: Node[] = [];
let reference: SqliteVectorIndex;
let referenceDb: Db;

function openLocal(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  return db;
}

function openNode(name: string): Node {
  const file = path.join(dir, `${name}.sqlite`);
  const db = openLocal(file);
  const node = { file, db, index: new ReplicatedVectorIndex(pool, db, indexOptions) };
  nodes.push(node);
  return node;
}

/** The reference index as a writer, so that one write function serves it and the log alike. */
function writerOf(index: SqliteVectorIndex): VectorIndexWriter {
  return {
    create: async (storeId, options) => index.create(storeId, options),
    drop: async (storeId) => index.drop(storeId),
    putFile: async (storeId, fileId, attributes, chunks) => index.putFile(storeId, fileId, attributes, chunks),
    removeFile: async (storeId, fileId) => index.removeFile(storeId, fileId),
    setAttributes: async (storeId, fileId, attributes) => index.setAttributes(storeId, fileId, attributes),
  };
}

/** The write through `node`'s writer inside a real transaction (committed), then on the reference. */
async function write(node: Node, work: (writer: VectorIndexWriter) => Promise<void>): Promise<void> {
  await inTransaction(pool, (client) => work(node.index.writer(client)));
  await work(writerOf(reference));
}

const words = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'theta', 'kappa', 'lambda', 'sigma', 'omega', 'rho'];
/** Eight cluster centres: chunks lie near one of them, as real embeddings cluster by topic. */
const centreRandom = seededRandom(42);
const centres = Array.from({ length: 8 }, () => Float32Array.from({ length: dimensions }, () => centreRandom() * 2 - 1));

/** A vector near a centre, the same for the same seed (a write made twice, on a node and on the
 *  reference, must carry the same data). */
function vectorNear(centre: number, seed: number): Float32Array {
  const random = seededRandom(seed);
  return Float32Array.from(centres[centre]!, (value) => value + (random() - 0.5) * 0.4);
}

function chunks(count: number, salt: number): ChunkInput[] {
  return Array.from({ length: count }, (_, index) => ({
    index,
    text: `${words[(salt + index) % words.length]} ${words[(salt * 7 + index * 3) % words.length]} chunk ${salt}-${index} ünïcode`,
    embedding: vectorNear((salt + index) % centres.length, salt * 1000 + index),
  }));
}

function queries(): SearchQuery[] {
  const vector = vectorNear(3, 1);
  return [
    { mode: 'vector', vector, maxResults: 7 },
    { mode: 'keyword', text: 'alpha gamma', maxResults: 7 },
    { mode: 'hybrid', vector, text: 'delta sigma', maxResults: 7 },
    { mode: 'vector', vector: vectorNear(5, 2), maxResults: 5, filter: { type: 'eq', key: 'team', value: 'red' } },
    { mode: 'hybrid', vector, text: 'omega', maxResults: 4, filter: { type: 'gte', key: 'year', value: 2024 } },
  ];
}

/** Every query on every given node gives exactly the reference's hits (scores included); returns them. */
async function sameEverywhere(storeId: string, on: Node[]): Promise<unknown[]> {
  const expected = queries().map((query) => reference.search(storeId, query));
  for (const node of on) {
    const got = [];
    for (const query of queries()) got.push(await node.index.search(storeId, query));
    assert.deepEqual(got, expected, `${path.basename(node.file)} gives the reference's hits`);
    assert.equal(await node.index.chunkCount(storeId), reference.chunkCount(storeId));
    assert.deepEqual(await node.index.options(storeId), reference.options(storeId));
  }
  return expected;
}

async function lastSeq(storeId: string): Promise<number | undefined> {
  const result = await pool.query<{ last_seq: number }>('SELECT last_seq FROM vector_index_heads WHERE store_id = $1', [storeId]);
  return result.rows[0]?.last_seq;
}

const attributes = (n: number): Attributes => ({ team: n % 2 === 0 ? 'red' : 'blue', year: 2020 + n, draft: n % 3 === 0 });

describe('vector index replicated through PostgreSQL', () => {
  let a: Node;
  let b: Node;

  before(async () => {
    server = await testPostgres();
    pool = await openPostgresPool(await createDatabase(server.url, `llmsvc_replicas_${process.pid}`), () => undefined, 6);
    referenceDb = openLocal(path.join(dir, 'reference.sqlite'));
    reference = new SqliteVectorIndex(referenceDb, indexOptions);
    a = openNode('node-a');
    b = openNode('node-b');
  });
  after(async () => {
    for (const node of nodes) if (node.db.open) node.db.close();
    referenceDb.close();
    await pool.end();
    await server.stop();
  });

  test('a store created and filled through node A, in a transaction with other writes, is searched alike on node B', async () => {
    await inTransaction(pool, async (client) => {
      await new PostgresVectorStoreRepository(client).save({
        id: 'vs_plain', name: 'plain', description: null, embeddingModel: 'test', dimensions, chunkingStrategy: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 },
        metadata: null, expiresAfterDays: null, lastActiveAt: 1, createdAt: 1,
      });
      const writer = a.index.writer(client);
      await writer.create('vs_plain', plain);
      for (let n = 1; n <= 4; n++) await writer.putFile('vs_plain', `file-${n}`, attributes(n), chunks(6, n));
    });
    const reference_ = writerOf(reference);
    await reference_.create('vs_plain', plain);
    for (let n = 1; n <= 4; n++) await reference_.putFile('vs_plain', `file-${n}`, attributes(n), chunks(6, n));
    // A put replaces the file's chunks, on every node as on one.
    await write(a, (writer) => writer.putFile('vs_plain', 'file-4', attributes(4), chunks(3, 40)));

    const hits = await sameEverywhere('vs_plain', [b, a]);
    assert.ok(hits.every((list) => (list as unknown[]).length > 0), 'every query finds something');
    assert.equal(await b.index.chunkCount('vs_plain'), 21);
    assert.equal(b.index.appliedSeq('vs_plain'), await lastSeq('vs_plain'));
    assert.equal(await lastSeq('vs_plain'), 6, 'create, four puts and the replacing put');
  });

  test('int8 with ivf partitions: both nodes train the same partitions from the log and give the same hits', async () => {
    await write(a, (writer) => writer.create('vs_ivf', partitioned));
    // 12 files of 25 chunks, in several transactions: trained at 75 chunks, trained again at 300.
    for (let n = 1; n <= 12; n += 3) {
      await write(a, async (writer) => {
        for (let m = n; m < n + 3; m++) await writer.putFile('vs_ivf', `file-${m}`, attributes(m), chunks(25, 100 + m));
      });
    }
    await sameEverywhere('vs_ivf', [b, a]);
    const stats = reference.partitionStats('vs_ivf')!;
    assert.ok(stats.partitions > 1 && stats.generation === 2, `trained twice into partitions: ${JSON.stringify(stats)}`);
    assert.deepEqual(b.index.localIndex.partitionStats('vs_ivf'), stats);
    assert.deepEqual(a.index.localIndex.partitionStats('vs_ivf'), stats);
  });

  test('removeFile and setAttributes propagate; errors at write time; a rolled-back write is never seen', async () => {
    await write(a, async (writer) => {
      await writer.setAttributes('vs_plain', 'file-1', { team: 'red', year: 2030, draft: false });
      await writer.removeFile('vs_plain', 'file-2');
      await writer.removeFile('vs_plain', 'never-there');
    });
    await sameEverywhere('vs_plain', [b]);
    const redFiles = new Set((await b.index.search('vs_plain', { mode: 'vector', vector: vectorNear(1, 3), maxResults: 50, filter: { type: 'eq', key: 'team', value: 'red' } })).map((hit) => hit.fileId));
    assert.deepEqual([...redFiles].sort(), ['file-1', 'file-4']);
    assert.equal(await b.index.chunkCount('vs_plain'), 15);

    // Refused as the SQLite index refuses them, before anything reaches the log.
    const seq = await lastSeq('vs_plain');
    const writer = a.index.writer(pool);
    await assert.rejects(writer.setAttributes('vs_plain', 'file-2', { team: 'x' }), { code: 'LLMSVC_ERR_NOT_FOUND', param: 'file_id' });
    await assert.rejects(writer.putFile('vs_plain', 'file-9', {}, [{ index: 0, text: 'x', embedding: new Float32Array(3).fill(1) }]), { code: 'LLMSVC_ERR_INVALID_PARAM' });
    await assert.rejects(writer.putFile('vs_plain', 'file-9', {}, [{ index: 0, text: 'x', embedding: new Float32Array(dimensions) }]), { code: 'LLMSVC_ERR_INVALID_PARAM' });
    await assert.rejects(writer.putFile('vs_missing', 'file-9', {}, chunks(1, 1)), { code: 'LLMSVC_ERR_NOT_FOUND', param: 'vector_store_id' });
    await assert.rejects(writer.create('vs_plain', partitioned), /already exists with other options/);
    await writer.create('vs_plain', { ...plain, partitioning: 'none' }); // the same options: nothing to do
    assert.equal(await lastSeq('vs_plain'), seq);

    // Rolled back with the transaction it was written in.
    await assert.rejects(
      inTransaction(pool, async (client) => {
        await a.index.writer(client).putFile('vs_plain', 'file-9', attributes(9), chunks(5, 9));
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await lastSeq('vs_plain'), seq);
    assert.equal(await b.index.chunkCount('vs_plain'), 15);
    assert.equal((await b.index.search('vs_plain', { mode: 'keyword', text: 'chunk', maxResults: 100 })).some((hit) => hit.fileId === 'file-9'), false);
    await write(a, (writer2) => writer2.putFile('vs_plain', 'file-9', attributes(9), chunks(2, 9)));
    assert.equal(await lastSeq('vs_plain'), seq! + 1, 'the next write takes the next seq: no gap');
    await sameEverywhere('vs_plain', [b]);
  });

  test('writers on two nodes at once get one order; concurrent reads on a new node apply each entry once', async () => {
    const reference_ = writerOf(reference);
    // Both transactions are open at once; B's waits for A's lock on the store's head, so A's commits first.
    let aHolds!: () => void;
    const aWrote = new Promise<void>((resolve) => (aHolds = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const onA = inTransaction(pool, async (client) => {
      await a.index.writer(client).putFile('vs_plain', 'file-a', attributes(10), chunks(4, 77));
      aHolds();
      await released;
    });
    await aWrote;
    const onB = inTransaction(pool, (client) => b.index.writer(client).putFile('vs_plain', 'file-b', attributes(11), chunks(4, 78)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    release();
    await Promise.all([onA, onB]);
    await reference_.putFile('vs_plain', 'file-a', attributes(10), chunks(4, 77));
    await reference_.putFile('vs_plain', 'file-b', attributes(11), chunks(4, 78));

    const c = openNode('node-c');
    const reads = await Promise.all(Array.from({ length: 6 }, () => c.index.search('vs_plain', queries()[2]!)));
    assert.ok(reads.every((hits) => JSON.stringify(hits) === JSON.stringify(reads[0])));
    assert.equal(c.index.appliedEntries, await lastSeq('vs_plain'), 'each entry applied once');
    await sameEverywhere('vs_plain', [c, b, a]);
  });

  test('an apply that fails midway leaves nothing of its entry behind; the next read applies it once', async () => {
    const d = openNode('node-d');
    const entries = (await lastSeq('vs_ivf'))!;
    // A crash in the middle of applying entry 9 (a put, after its chunks went in): the entry's
    // chunks and its applied seq are one local transaction.
    d.db.exec(`CREATE TRIGGER crash_at_9 BEFORE UPDATE ON vector_index_applied WHEN NEW.seq = 9 BEGIN SELECT RAISE(ABORT, 'crash while applying'); END`);
    await assert.rejects(d.index.chunkCount('vs_ivf'), /crash while applying/);
    assert.equal(d.index.appliedSeq('vs_ivf'), 8);
    assert.equal(d.index.localIndex.chunkCount('vs_ivf'), 7 * 25, 'the create and the first seven puts, not the eighth');
    d.db.exec('DROP TRIGGER crash_at_9');
    await sameEverywhere('vs_ivf', [d]);
    assert.equal(d.index.appliedEntries, entries, 'every entry applied once');
    assert.deepEqual(d.index.localIndex.partitionStats('vs_ivf'), reference.partitionStats('vs_ivf'));
  });

  test('a restarted node resumes from its applied seq; drop reaches every node; the id created again is a new store', async () => {
    const applied = b.index.appliedSeq('vs_ivf');
    b.db.close();
    const restarted = openNode('node-b');
    assert.equal(restarted.index.appliedSeq('vs_ivf'), applied);
    await write(a, (writer) => writer.putFile('vs_ivf', 'file-13', attributes(13), chunks(5, 113)));
    await sameEverywhere('vs_ivf', [restarted]);
    assert.equal(restarted.index.appliedEntries, 1, 'only the entry written while it was down');
    assert.deepEqual(restarted.index.localIndex.partitionStats('vs_ivf'), reference.partitionStats('vs_ivf'));

    await write(a, (writer) => writer.drop('vs_plain'));
    assert.equal(await lastSeq('vs_plain'), undefined);
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM vector_index_log WHERE store_id = 'vs_plain'`)).rows[0].n, 0);
    assert.equal(await restarted.index.options('vs_plain'), undefined);
    await assert.rejects(restarted.index.search('vs_plain', queries()[0]!), { code: 'LLMSVC_ERR_NOT_FOUND' });
    assert.equal(restarted.index.localIndex.options('vs_plain'), undefined, 'the local tables are gone');
    assert.equal(restarted.index.appliedSeq('vs_plain'), 0);

    // Node C still holds the old store until it reads: then it starts over with the new one.
    assert.ok(nodes[2]!.index.localIndex.options('vs_plain'));
    await write(a, async (writer) => {
      await writer.create('vs_plain', partitioned);
      await writer.putFile('vs_plain', 'file-new', attributes(1), chunks(3, 200));
    });
    await sameEverywhere('vs_plain', [nodes[2]!, restarted]);
    assert.equal(await nodes[2]!.index.chunkCount('vs_plain'), 3);
    assert.deepEqual(await nodes[2]!.index.options('vs_plain'), partitioned);
  });
});
