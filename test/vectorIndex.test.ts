// The sqlite-vec + FTS5 vector index, on a real SQLite file: exact and quantized search against a
// brute force, attribute filters, hybrid search, atomic file replacement, errors and drop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, type Db } from '../core/store/database.js';
import { SqliteVectorIndex, reciprocalRankFusion, type AttributeFilter, type Attributes, type ChunkInput, type IndexOptions } from '../core/store/vectors/index.js';
import { isApiError } from '../core/errors/index.js';
import { bruteForceTopK, clusteredVectors, cosineSimilarity, randomUnitVector, recallAt, seededRandom } from './support/vectors.js';

let dir: string;
let db: Db;
let index: SqliteVectorIndex;
/** The same database, partitioning stores from 64 chunks on, so that small corpora are partitioned. */
let eager: SqliteVectorIndex;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmsvc-vectors-'));
  db = openDatabase(join(dir, 'test.sqlite'));
  index = new SqliteVectorIndex(db);
  eager = new SqliteVectorIndex(db, { ivf: { minTrainingRows: 64 } });
});
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const chunksPerFile = 10;
const fileOf = (i: number) => `file-${Math.floor(i / chunksPerFile)}`;
/** The vector's position in the corpus from a hit. */
const corpusIndex = (hit: { fileId: string; chunkIndex: number }) => Number(hit.fileId.slice(5)) * chunksPerFile + hit.chunkIndex;

/** Puts `vectors` as files of 10 chunks; file n gets the attributes `attributesOf(n)`. */
function putCorpus(storeId: string, vectors: Float32Array[], attributesOf: (file: number) => Attributes = () => ({}), texts?: string[], into = index): void {
  for (let start = 0; start < vectors.length; start += chunksPerFile) {
    const chunks: ChunkInput[] = vectors.slice(start, start + chunksPerFile).map((embedding, j) => ({
      index: j,
      text: texts?.[start + j] ?? `chunk ${start + j}`,
      embedding,
    }));
    into.putFile(storeId, fileOf(start), attributesOf(start / chunksPerFile), chunks);
  }
}

function assertApiError(fn: () => unknown, status: number, pattern: RegExp): void {
  assert.throws(fn, (error) => isApiError(error) && error.status === status && pattern.test(error.message));
}

describe('exact vector search', () => {
  const random = seededRandom(1);
  const vectors = Array.from({ length: 400 }, () => randomUnitVector(random, 24));
  before(() => {
    index.create('vs_exact', { dimensions: 24, quantization: 'none' });
    putCorpus('vs_exact', vectors);
  });

  test('returns the true nearest neighbours, best first, with (1 + cosine) / 2 scores', () => {
    assert.equal(index.chunkCount('vs_exact'), 400);
    for (let q = 0; q < 10; q++) {
      const query = randomUnitVector(random, 24);
      const hits = index.search('vs_exact', { mode: 'vector', vector: query, maxResults: 10 });
      assert.deepEqual(hits.map(corpusIndex), bruteForceTopK(vectors, query, 10));
      for (const hit of hits) {
        assert.ok(Math.abs(hit.score - (1 + cosineSimilarity(vectors[corpusIndex(hit)]!, query)) / 2) < 1e-5);
        assert.equal(hit.text, `chunk ${corpusIndex(hit)}`);
      }
    }
  });

  test('scoreThreshold drops weaker hits', () => {
    const query = vectors[7]!;
    const hits = index.search('vs_exact', { mode: 'vector', vector: query, maxResults: 10, scoreThreshold: 0.999 });
    assert.deepEqual(hits.map(corpusIndex), [7]);
  });

  test('a query of the wrong dimension is a 400 naming both dimensions', () => {
    assertApiError(() => index.search('vs_exact', { mode: 'vector', vector: new Float32Array(12).fill(1), maxResults: 3 }), 400, /12 dimensions.*24-dimensional/);
  });
});

/** Every kind of store: exact, quantized, and quantized with partitions (trained at 64 chunks). */
const filterModes: [string, IndexOptions][] = [
  ['exact', { dimensions: 16, quantization: 'none' }],
  ['int8', { dimensions: 16, quantization: 'int8' }],
  ['bit', { dimensions: 16, quantization: 'bit' }],
  ['int8 + ivf', { dimensions: 16, quantization: 'int8', partitioning: 'ivf' }],
  ['bit + ivf', { dimensions: 16, quantization: 'bit', partitioning: 'ivf' }],
];

for (const [modeName, storeOptions] of filterModes) describe(`attribute filters (${modeName})`, () => {
  const storeId = `vs_filters_${modeName.replace(/\W+/g, '_')}`;
  const exact = storeOptions.quantization === 'none';
  const random = seededRandom(2);
  const vectors = Array.from({ length: 300 }, () => randomUnitVector(random, 16));
  // 30 files: n = file number; one rare file is the only one with tier 'gold'.
  const attributesOf = (n: number): Attributes => ({ n, team: n % 3 === 0 ? 'search' : 'infra', draft: n % 2 === 0, ...(n === 17 ? { tier: 'gold' } : {}) });
  const query = randomUnitVector(random, 16);
  before(() => {
    eager.create(storeId, storeOptions);
    putCorpus(storeId, vectors, attributesOf, undefined, eager);
    if (storeOptions.partitioning) assert.ok(eager.partitionStats(storeId)!.partitions > 1, 'the store is partitioned');
  });

  const cases: [string, AttributeFilter, (a: Attributes) => boolean][] = [
    ['eq string', { type: 'eq', key: 'team', value: 'search' }, (a) => a.team === 'search'],
    ['eq boolean', { type: 'eq', key: 'draft', value: true }, (a) => a.draft === true],
    ['eq number', { type: 'eq', key: 'n', value: 4 }, (a) => a.n === 4],
    ['ne (a file without the key matches)', { type: 'ne', key: 'tier', value: 'gold' }, (a) => a.tier !== 'gold'],
    ['gt', { type: 'gt', key: 'n', value: 25 }, (a) => (a.n as number) > 25],
    ['gte', { type: 'gte', key: 'n', value: 25 }, (a) => (a.n as number) >= 25],
    ['lt', { type: 'lt', key: 'n', value: 3 }, (a) => (a.n as number) < 3],
    ['lte', { type: 'lte', key: 'n', value: 3 }, (a) => (a.n as number) <= 3],
    ['gt on strings is lexicographic', { type: 'gt', key: 'team', value: 'j' }, (a) => (a.team as string) > 'j'],
    ['a kind mismatch never matches', { type: 'eq', key: 'n', value: '4' }, () => false],
    [
      'and',
      { type: 'and', filters: [{ type: 'eq', key: 'team', value: 'infra' }, { type: 'lt', key: 'n', value: 10 }] },
      (a) => a.team === 'infra' && (a.n as number) < 10,
    ],
    [
      'or of and',
      {
        type: 'or',
        filters: [
          { type: 'eq', key: 'tier', value: 'gold' },
          { type: 'and', filters: [{ type: 'eq', key: 'draft', value: false }, { type: 'gte', key: 'n', value: 27 }] },
        ],
      },
      (a) => a.tier === 'gold' || (a.draft === false && (a.n as number) >= 27),
    ],
  ];

  for (const [name, filter, predicate] of cases) {
    test(name, () => {
      const keep = (i: number) => predicate(attributesOf(Math.floor(i / chunksPerFile)));
      const expected = bruteForceTopK(vectors, query, 10, keep);
      const hits = eager.search(storeId, { mode: 'vector', vector: query, maxResults: 10, filter });
      for (const hit of hits) assert.ok(predicate(hit.attributes));
      if (exact) {
        assert.deepEqual(hits.map(corpusIndex), expected);
      } else {
        // Approximate: as many hits as the exact search, every one matching, most of the same ones.
        assert.equal(hits.length, expected.length);
        if (expected.length > 0) assert.ok(recallAt(10, expected, hits.map(corpusIndex)) >= 0.7, `recall ${recallAt(10, expected, hits.map(corpusIndex))}`);
      }
    });
  }

  test('a selective filter still returns maxResults hits: the filter is applied inside the search', () => {
    const filter: AttributeFilter = { type: 'eq', key: 'tier', value: 'gold' };
    for (const mode of ['vector', 'hybrid', 'keyword'] as const) {
      const hits = eager.search(storeId, { mode, vector: query, text: 'chunk', maxResults: 10, filter });
      assert.equal(hits.length, 10, mode);
      assert.ok(hits.every((hit) => hit.fileId === 'file-17'), mode);
    }
  });

  test('a boolean compared with gt is a 400', () => {
    assertApiError(() => eager.search(storeId, { mode: 'vector', vector: query, maxResults: 3, filter: { type: 'gt', key: 'draft', value: true } }), 400, /booleans support only/);
  });

  test('setAttributes changes what filters match; removeFile removes the chunks', () => {
    const gold: AttributeFilter = { type: 'eq', key: 'tier', value: 'gold' };
    eager.setAttributes(storeId, 'file-3', { tier: 'gold' });
    const hits = eager.search(storeId, { mode: 'vector', vector: query, maxResults: 30, filter: gold });
    assert.deepEqual(new Set(hits.map((hit) => hit.fileId)), new Set(['file-3', 'file-17']));
    assert.deepEqual(hits.find((hit) => hit.fileId === 'file-3')!.attributes, { tier: 'gold' });
    eager.removeFile(storeId, 'file-3');
    assert.equal(eager.chunkCount(storeId), 290);
    assert.ok(eager.search(storeId, { mode: 'vector', vector: query, maxResults: 30, filter: gold }).every((hit) => hit.fileId === 'file-17'));
    assert.equal(eager.search(storeId, { mode: 'keyword', text: 'chunk 35', maxResults: 300 }).filter((hit) => hit.fileId === 'file-3').length, 0);
  });
});

describe('hybrid search', () => {
  const random = seededRandom(3);
  const dimensions = 32;
  const vectors = Array.from({ length: 100 }, () => randomUnitVector(random, dimensions));
  const query = randomUnitVector(random, dimensions);
  // The chunk with the product code is only the 15th nearest to the query's embedding: an
  // embedding model that sees the topic but knows nothing of part numbers.
  const codeChunk = bruteForceTopK(vectors, query, 15)[14]!;
  const texts = Array.from({ length: 100 }, (_, i) => `Maintenance note ${i}: check the pump seals and the valve housing before each shift.`);
  texts[codeChunk] = 'Replacement part XK-4471 fits the older housing; order it from stores.';
  before(() => {
    index.create('vs_hybrid', { dimensions, quantization: 'none' });
    putCorpus('vs_hybrid', vectors, () => ({}), texts);
  });

  test('BM25 finds a rare product code that vector search misses, and hybrid keeps it', () => {
    const text = 'which part is XK-4471';
    const byVector = index.search('vs_hybrid', { mode: 'vector', vector: query, text, maxResults: 5 });
    assert.ok(!byVector.some((hit) => corpusIndex(hit) === codeChunk));
    const byKeyword = index.search('vs_hybrid', { mode: 'keyword', text, maxResults: 5 });
    assert.equal(corpusIndex(byKeyword[0]!), codeChunk);
    assert.ok(byKeyword[0]!.score > 0 && byKeyword[0]!.score < 1);
    const hybrid = index.search('vs_hybrid', { mode: 'hybrid', vector: query, text, maxResults: 5 });
    assert.equal(corpusIndex(hybrid[0]!), codeChunk);
    for (const hit of hybrid) assert.ok(hit.score > 0 && hit.score <= 1);
  });

  test('FTS5 syntax in the query text is taken as plain words', () => {
    assert.doesNotThrow(() => index.search('vs_hybrid', { mode: 'keyword', text: 'NEAR(" pump* AND :valve', maxResults: 5 }));
    assert.deepEqual(index.search('vs_hybrid', { mode: 'keyword', text: '?!', maxResults: 5 }), []);
  });

  test('reciprocal rank fusion: first in both lists scores 1, first in one of two scores 0.5', () => {
    const fused = reciprocalRankFusion([['a', 'b'], ['a', 'c']]);
    assert.equal(fused[0]!.id, 'a');
    assert.ok(Math.abs(fused[0]!.score - 1) < 1e-12);
    assert.ok(Math.abs(reciprocalRankFusion([['x'], []])[0]!.score - 0.5) < 1e-12);
  });
});

describe('quantized search, rescored exactly', () => {
  // Clustered, like embeddings of documents on a few topics; on uniform noise the true neighbours
  // are hardly nearer than the rest and a 1-bit code cannot tell them apart.
  const random = seededRandom(4);
  const dimensions = 128;
  const vectors = clusteredVectors(random, 2020, dimensions, 20, 1);
  const queries = vectors.splice(2000, 20);

  for (const [quantization, minimumRecall] of [['int8', 0.95], ['bit', 0.9]] as const) {
    test(`${quantization}: recall@10 ≥ ${minimumRecall} on clustered random data, exact scores`, () => {
      const storeId = `vs_${quantization}`;
      index.create(storeId, { dimensions, quantization });
      putCorpus(storeId, vectors);
      let recall = 0;
      for (const query of queries) {
        const hits = index.search(storeId, { mode: 'vector', vector: query, maxResults: 10 });
        assert.equal(hits.length, 10);
        recall += recallAt(10, bruteForceTopK(vectors, query, 10), hits.map(corpusIndex)) / queries.length;
        for (const hit of hits) assert.ok(Math.abs(hit.score - (1 + cosineSimilarity(vectors[corpusIndex(hit)]!, query)) / 2) < 1e-5);
      }
      assert.ok(recall >= minimumRecall, `recall@10 ${recall}`);
    });
  }

  test('bit quantization needs dimensions divisible by 8', () => {
    assertApiError(() => index.create('vs_bit_odd', { dimensions: 12, quantization: 'bit' }), 400, /divisible by 8/);
  });
});

describe('partitioned (ivf) quantized search', () => {
  // Clustered like the benchmark's data (clusters of ~100, cosine ≈ 0.5 within one), at a size where
  // the store is partitioned twice on the way (at 64 chunks and at 4 × 64 = 256 … 1024 … chunks).
  const random = seededRandom(7);
  const dimensions = 64;
  const vectors = clusteredVectors(random, 3020, dimensions, 30, 1);
  const queries = vectors.splice(3000, 20);
  const ivfIndex = () => new SqliteVectorIndex(db, { ivf: { minTrainingRows: 64 } });

  function recallOf(idx: SqliteVectorIndex, storeId: string, keep?: (i: number) => boolean, filter?: AttributeFilter): number {
    let recall = 0;
    for (const query of queries) {
      const hits = idx.search(storeId, { mode: 'vector', vector: query, maxResults: 10, filter });
      const expected = bruteForceTopK(vectors, query, 10, keep);
      assert.equal(hits.length, expected.length);
      recall += recallAt(10, expected, hits.map(corpusIndex)) / queries.length;
      for (const hit of hits) assert.ok(Math.abs(hit.score - (1 + cosineSimilarity(vectors[corpusIndex(hit)]!, query)) / 2) < 1e-5);
    }
    return recall;
  }

  for (const quantization of ['bit', 'int8'] as const) {
    test(`${quantization} + ivf: recall@10 ≥ 0.95 on seeded clustered data, exact scores, partitions read`, () => {
      const idx = ivfIndex();
      const storeId = `vs_ivf_${quantization}`;
      idx.create(storeId, { dimensions, quantization, partitioning: 'ivf' });
      assert.deepEqual(idx.options(storeId), { dimensions, quantization, partitioning: 'ivf' });
      putCorpus(storeId, vectors, (n) => ({ n }), undefined, idx);
      const stats = idx.partitionStats(storeId)!;
      assert.equal(stats.rows, 3000);
      assert.ok(stats.generation >= 2, `re-partitioned as it grew: generation ${stats.generation}`);
      assert.ok(stats.trainedRows >= 1024, `trained on ${stats.trainedRows}`);
      assert.ok(stats.partitions >= 100, `${stats.partitions} partitions`);
      const recall = recallOf(idx, storeId);
      assert.ok(recall >= 0.95, `recall@10 ${recall}`);
    });
  }

  test('filters apply inside the partitioned search: broad, and selective (falls back to every partition)', () => {
    const idx = ivfIndex();
    const broad: AttributeFilter = { type: 'ne', key: 'n', value: 5 };
    const recall = recallOf(idx, 'vs_ivf_bit', (i) => Math.floor(i / chunksPerFile) !== 5, broad);
    assert.ok(recall >= 0.95, `recall@10 with a broad filter ${recall}`);
    // One file of 300: its chunks are in partitions far from most queries.
    const selective: AttributeFilter = { type: 'eq', key: 'n', value: 123 };
    for (const query of queries.slice(0, 5)) {
      const hits = idx.search('vs_ivf_bit', { mode: 'vector', vector: query, maxResults: 10, filter: selective });
      assert.deepEqual(hits.map(corpusIndex), bruteForceTopK(vectors, query, 10, (i) => Math.floor(i / chunksPerFile) === 123));
    }
    const hybrid = idx.search('vs_ivf_bit', { mode: 'hybrid', vector: queries[0]!, text: 'chunk', maxResults: 10, filter: selective });
    assert.equal(hybrid.length, 10);
    assert.ok(hybrid.every((hit) => hit.fileId === 'file-123'));
  });

  test('deletes and replacements: gone chunks are never found, row counts follow', () => {
    const idx = ivfIndex();
    const storeId = 'vs_ivf_bit';
    const nearest = idx.search(storeId, { mode: 'vector', vector: vectors[1234]!, maxResults: 1 })[0]!;
    assert.equal(corpusIndex(nearest), 1234);
    idx.removeFile(storeId, fileOf(1234));
    assert.equal(idx.chunkCount(storeId), 2990);
    assert.equal(idx.partitionStats(storeId)!.rows, 2990);
    const after = idx.search(storeId, { mode: 'vector', vector: vectors[1234]!, maxResults: 50 });
    assert.equal(after.length, 50);
    assert.ok(after.every((hit) => hit.fileId !== fileOf(1234)));
    // Put back with other text: routed to partitions at insert, found again.
    idx.putFile(storeId, fileOf(1234), { n: 123.4 }, vectors.slice(1230, 1240).map((embedding, j) => ({ index: j, text: `again ${j}`, embedding })));
    const again = idx.search(storeId, { mode: 'vector', vector: vectors[1234]!, maxResults: 1 })[0]!;
    assert.equal(again.text, 'again 4');
    assert.equal(idx.partitionStats(storeId)!.rows, 3000);
  });

  test('re-partitioning keeps every chunk findable and results correct', () => {
    const idx = ivfIndex();
    const storeId = 'vs_ivf_int8';
    const before = idx.partitionStats(storeId)!;
    const hitsBefore = queries.map((query) => idx.search(storeId, { mode: 'vector', vector: query, maxResults: 10 }).map(corpusIndex));
    idx.repartition(storeId);
    const after = idx.partitionStats(storeId)!;
    assert.equal(after.generation, before.generation + 1);
    assert.equal(after.trainedRows, 3000);
    // Another index object on the same database sees the new partitioning (its cache is per generation).
    assert.ok(recallOf(index, storeId) >= 0.95);
    assert.ok(recallOf(idx, storeId) >= 0.95);
    const hitsAfter = queries.map((query) => idx.search(storeId, { mode: 'vector', vector: query, maxResults: 10 }).map(corpusIndex));
    const overlap = hitsBefore.reduce((sum, found, q) => sum + recallAt(10, found, hitsAfter[q]!), 0) / queries.length;
    assert.ok(overlap >= 0.9, `results before and after agree: ${overlap}`);
    // Each chunk is its own nearest neighbour wherever it now lives.
    for (const i of [0, 777, 2999]) assert.equal(corpusIndex(idx.search(storeId, { mode: 'vector', vector: vectors[i]!, maxResults: 1 })[0]!), i);
  });

  test('ivf needs a quantized store; an unknown partitioning is a 400; stores without it are unchanged', () => {
    assertApiError(() => index.create('vs_ivf_none', { dimensions: 8, quantization: 'none', partitioning: 'ivf' }), 400, /int8 or bit/);
    assertApiError(() => index.create('vs_ivf_odd', { dimensions: 8, quantization: 'bit', partitioning: 'hnsw' as 'ivf' }), 400, /none or ivf/);
    assert.throws(() => index.create('vs_ivf_bit', { dimensions, quantization: 'bit' }), /already exists/);
    assert.equal(index.partitionStats('vs_bit'), undefined);
    assert.doesNotThrow(() => index.repartition('vs_bit'));
  });
});

describe('writes', () => {
  const random = seededRandom(5);
  const chunk = (index: number, text: string): ChunkInput => ({ index, text, embedding: randomUnitVector(random, 8) });
  before(() => index.create('vs_writes', { dimensions: 8, quantization: 'int8' }));

  test('putFile replaces the chunks a file had', () => {
    index.putFile('vs_writes', 'file-a', {}, [chunk(0, 'alpha one'), chunk(1, 'alpha two'), chunk(2, 'alpha three')]);
    index.putFile('vs_writes', 'file-a', { v: 2 }, [chunk(0, 'beta one'), chunk(1, 'beta two')]);
    assert.equal(index.chunkCount('vs_writes'), 2);
    assert.deepEqual(index.search('vs_writes', { mode: 'keyword', text: 'alpha', maxResults: 10 }), []);
    const hits = index.search('vs_writes', { mode: 'vector', vector: randomUnitVector(random, 8), maxResults: 10 });
    assert.deepEqual(hits.map((hit) => hit.text).sort(), ['beta one', 'beta two']);
    assert.ok(hits.every((hit) => hit.attributes.v === 2));
  });

  test('a putFile that fails mid-file leaves the old chunks intact', () => {
    // The third chunk repeats an index: its insert fails after two chunks have been written.
    const failing = [chunk(0, 'gamma one'), chunk(1, 'gamma two'), chunk(1, 'gamma again')];
    assert.throws(() => index.putFile('vs_writes', 'file-a', { v: 3 }, failing), /UNIQUE/);
    assert.equal(index.chunkCount('vs_writes'), 2);
    assert.deepEqual(index.search('vs_writes', { mode: 'keyword', text: 'gamma', maxResults: 10 }), []);
    const hits = index.search('vs_writes', { mode: 'hybrid', vector: randomUnitVector(random, 8), text: 'beta', maxResults: 10 });
    assert.deepEqual(hits.map((hit) => hit.text).sort(), ['beta one', 'beta two']);
    assert.ok(hits.every((hit) => hit.attributes.v === 2));
  });

  test('mixing dimensions is a 400 and writes nothing', () => {
    const wrong = { index: 1, text: 'wide', embedding: new Float32Array(16).fill(0.25) };
    assertApiError(() => index.putFile('vs_writes', 'file-b', {}, [chunk(0, 'ok'), wrong]), 400, /chunks\[1\]\.embedding has 16 dimensions.*8-dimensional/);
    assert.equal(index.chunkCount('vs_writes'), 2);
  });

  test('a zero or non-finite embedding is a 400', () => {
    assertApiError(() => index.putFile('vs_writes', 'file-b', {}, [{ index: 0, text: 'zero', embedding: new Float32Array(8) }]), 400, /all zeros/);
    assertApiError(() => index.search('vs_writes', { mode: 'vector', vector: new Float32Array(8).fill(Number.NaN), maxResults: 1 }), 400, /non-finite/);
  });

  test('an unknown store is a 404', () => {
    assertApiError(() => index.search('vs_missing', { mode: 'keyword', text: 'x', maxResults: 1 }), 404, /vs_missing/);
  });
});

describe('store ids and drop', () => {
  const hostile = `vs_x"; DROP TABLE vector_index_stores; --`;
  const tableNames = () => (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).pluck().all() as string[]).sort();

  test('any string is a safe store id', () => {
    index.create(hostile, { dimensions: 4, quantization: 'none' });
    index.putFile(hostile, 'f', {}, [{ index: 0, text: 'hello', embedding: new Float32Array([1, 0, 0, 0]) }]);
    assert.deepEqual(index.options(hostile), { dimensions: 4, quantization: 'none' });
    assert.equal(index.search(hostile, { mode: 'keyword', text: 'hello', maxResults: 1 }).length, 1);
  });

  test('create is idempotent with the same options and refuses others', () => {
    assert.doesNotThrow(() => index.create(hostile, { dimensions: 4, quantization: 'none' }));
    assert.throws(() => index.create(hostile, { dimensions: 8, quantization: 'none' }), /already exists/);
  });

  test('drop removes every table of the store and only those', () => {
    const before = tableNames();
    index.drop(hostile);
    const after = tableNames();
    assert.equal(index.options(hostile), undefined);
    const removed = before.filter((name) => !after.includes(name));
    assert.ok(removed.length >= 5, removed.join());
    assert.ok(removed.every((name) => /^vs\d+_/.test(name)), removed.join());
    assert.ok(index.options('vs_exact'));
    assertApiError(() => index.chunkCount(hostile), 404, /create the vector store/);
    assert.doesNotThrow(() => index.drop(hostile));
    // A store re-created under the same id starts empty.
    index.create(hostile, { dimensions: 8, quantization: 'bit' });
    assert.equal(index.chunkCount(hostile), 0);
  });
});
