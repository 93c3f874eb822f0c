// The vector index (issue 6): insert rate, exact and quantized top-10 latency, and recall@10 of the
// quantized searches against the exact results of the same run; the floor is a plain Float32Array
// brute-force scan of the same vectors in this process. Quantized stores are measured flat (every
// code read) and partitioned (partitioning: 'ivf', a few k-means partitions read per query); the
// partitioned bit store is also measured on uniform random vectors, where IVF has little to work with.
//
//   node --import tsx bench/vectors.ts [--quick]
//
// Data: 384-dimensional unit vectors in clusters of ~100 (a random centre plus Gaussian noise of
// the centre's length, so chunks of one "topic" have cosine ≈ 0.5 with each other), seeded; the
// queries are held-out points of the same clusters. Clustered data is what embeddings of real
// documents look like; on uniform noise every vector is nearly equidistant from a query, which no
// quantization (and no user) cares about.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../core/store/database.js';
import { SqliteVectorIndex, type AttributeFilter, type IndexOptions, type Quantization, type SearchHit } from '../core/store/vectors/index.js';
import { clusteredVectors, randomUnitVector, recallAt, seededRandom } from '../test/support/vectors.js';
import { benchLogger, machineInfo, markdownTable, percentile, projectRoot, resultsFile, runBenchmark, textTable, writeResultsSection } from './support.js';

const log = benchLogger('vectors');
const quick = process.argv.includes('--quick');
const chunkCount = quick ? 20_000 : 100_000;
const dimensions = 384;
const queryCount = quick ? 40 : 100;
const chunksPerFile = 10;
const topK = 10;
const sectionHeading = 'Vectors (issue 6)';

interface Variant {
  name: string;
  quantization: Quantization;
  oversampling?: number;
  nprobe?: number;
  index: SqliteVectorIndex;
  storeId: string;
}

interface Timing {
  ms: number[];
  results: number[][];
}

/** The floor: cosine = dot product over pre-normalised vectors, keeping the best k by insertion. */
function bruteForceScan(matrix: Float32Array, query: Float32Array, k: number): number[] {
  const best: { i: number; score: number }[] = [];
  const rows = matrix.length / dimensions;
  for (let i = 0; i < rows; i++) {
    let dot = 0;
    const offset = i * dimensions;
    for (let j = 0; j < dimensions; j++) dot += matrix[offset + j]! * query[j]!;
    if (best.length < k || dot > best[best.length - 1]!.score) {
      let at = best.length;
      while (at > 0 && best[at - 1]!.score < dot) at--;
      best.splice(at, 0, { i, score: dot });
      if (best.length > k) best.pop();
    }
  }
  return best.map((entry) => entry.i);
}

const corpusIndex = (hit: SearchHit) => Number(hit.fileId.slice(1)) * chunksPerFile + hit.chunkIndex;

function chunkText(random: () => number, i: number): string {
  const words = Array.from({ length: 24 }, () => `w${Math.floor(random() * 5000)}`);
  return `chunk ${i}: ${words.join(' ')}`;
}

function insertStore(index: SqliteVectorIndex, storeId: string, options: Omit<IndexOptions, 'dimensions'>, vectors: Float32Array[], texts: string[]): number {
  index.create(storeId, { dimensions, ...options });
  const started = performance.now();
  for (let start = 0; start < vectors.length; start += chunksPerFile) {
    const file = start / chunksPerFile;
    const chunks = vectors.slice(start, start + chunksPerFile).map((embedding, j) => ({ index: j, text: texts[start + j]!, embedding }));
    index.putFile(storeId, `f${file}`, { topic: file % 100 }, chunks);
  }
  return vectors.length / ((performance.now() - started) / 1000);
}

const fmt = (ms: number) => (ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function main(): Promise<void> {
  const startedAt = performance.now();
  const random = seededRandom(6);
  log(`generating ${chunkCount} + ${queryCount} clustered ${dimensions}-d vectors`);
  const vectors = clusteredVectors(random, chunkCount + queryCount, dimensions, chunkCount / 100, 1);
  const queries = vectors.splice(chunkCount, queryCount);
  const texts = vectors.map((_, i) => chunkText(random, i));
  const matrix = new Float32Array(chunkCount * dimensions);
  vectors.forEach((vector, i) => matrix.set(vector, i * dimensions));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-bench-vectors-'));
  let db: Db | undefined;
  try {
    db = openDatabase(path.join(dir, 'bench.sqlite'));
    const base = new SqliteVectorIndex(db);
    const stores: { storeId: string; label: string; options: Omit<IndexOptions, 'dimensions'> }[] = [
      { storeId: 'vs_none', label: 'float32 store (putFile of 10 chunks, with FTS5)', options: { quantization: 'none' } },
      { storeId: 'vs_int8', label: 'int8 store', options: { quantization: 'int8' } },
      { storeId: 'vs_bit', label: 'bit store', options: { quantization: 'bit' } },
      { storeId: 'vs_int8_ivf', label: 'int8 + ivf store (k-means partitioning at 4k, 16k, 64k chunks included)', options: { quantization: 'int8', partitioning: 'ivf' } },
      { storeId: 'vs_bit_ivf', label: 'bit + ivf store (partitioning included)', options: { quantization: 'bit', partitioning: 'ivf' } },
    ];
    const insertRates = new Map<string, number>();
    for (const store of stores) {
      log(`inserting ${chunkCount} chunks into ${store.storeId}`);
      insertRates.set(store.storeId, insertStore(base, store.storeId, store.options, vectors, texts));
      log(`  ${insertRates.get(store.storeId)!.toFixed(0)} chunks/s`);
    }
    const ivfStats = base.partitionStats('vs_bit_ivf')!;
    let repartitionMs = 0;
    {
      const started = performance.now();
      base.repartition('vs_int8_ivf');
      repartitionMs = performance.now() - started;
    }
    log(`bit + ivf: ${ivfStats.partitions} partitions, trained at ${ivfStats.trainedRows} rows; re-partitioning int8 + ivf at ${chunkCount} took ${(repartitionMs / 1000).toFixed(1)} s`);

    const variants: Variant[] = [{ name: 'exact (float32)', quantization: 'none', index: base, storeId: 'vs_none' }];
    for (const oversampling of [2, 4]) {
      variants.push({ name: `int8, ×${oversampling} rescored`, quantization: 'int8', oversampling, storeId: 'vs_int8', index: new SqliteVectorIndex(db, { rescoreOversampling: { int8: oversampling } }) });
    }
    for (const oversampling of [4, 8, 16]) {
      variants.push({ name: `bit, ×${oversampling} rescored`, quantization: 'bit', oversampling, storeId: 'vs_bit', index: new SqliteVectorIndex(db, { rescoreOversampling: { bit: oversampling } }) });
    }
    const bitX8 = variants.length - 2;
    for (const [oversampling, nprobe, coarseProbe] of [[4, 8, 16], [8, 4, 16], [8, 8, 8], [8, 8, 16], [8, 16, 16], [16, 8, 16]] as const) {
      variants.push({
        name: `bit + ivf, nprobe ${nprobe} (of ${coarseProbe} coarse cells), ×${oversampling} rescored`,
        quantization: 'bit',
        oversampling,
        nprobe,
        storeId: 'vs_bit_ivf',
        index: new SqliteVectorIndex(db, { rescoreOversampling: { bit: oversampling }, ivf: { nprobe, coarseProbe } }),
      });
    }
    const bitIvfDefault = variants.findIndex((v) => v.storeId === 'vs_bit_ivf' && v.name.includes('nprobe 8 (of 16 coarse cells), ×8'));
    for (const nprobe of [8, 16]) {
      variants.push({ name: `int8 + ivf, nprobe ${nprobe}, ×4 rescored`, quantization: 'int8', oversampling: 4, nprobe, storeId: 'vs_int8_ivf', index: new SqliteVectorIndex(db, { ivf: { nprobe } }) });
    }
    const filter: AttributeFilter = { type: 'eq', key: 'topic', value: 7 };
    const extras: { name: string; run: (query: Float32Array, i: number) => unknown }[] = [
      { name: 'exact, filter matching 1% of files', run: (query) => base.search('vs_none', { mode: 'vector', vector: query, maxResults: topK, filter }) },
      { name: 'bit ×8, filter matching 1% of files', run: (query) => variants[bitX8]!.index.search('vs_bit', { mode: 'vector', vector: query, maxResults: topK, filter }) },
      { name: 'bit + ivf (defaults), filter matching 1% of files', run: (query) => variants[bitIvfDefault]!.index.search('vs_bit_ivf', { mode: 'vector', vector: query, maxResults: topK, filter }) },
      { name: 'hybrid (exact + BM25 of 3 words)', run: (query, i) => base.search('vs_none', { mode: 'hybrid', vector: query, text: texts[i * 7]!.split(' ').slice(2, 5).join(' '), maxResults: topK }) },
    ];

    const floor: Timing = { ms: [], results: [] };
    const timings = variants.map((): Timing => ({ ms: [], results: [] }));
    const extraMs = extras.map((): number[] => []);
    type Step = () => void;
    log(`querying: ${queryCount} queries × (floor + ${variants.length} variants + ${extras.length} extras), order rotated per query`);
    // One warm-up of each, not timed.
    bruteForceScan(matrix, queries[0]!, topK);
    for (const variant of variants) variant.index.search(variant.storeId, { mode: 'vector', vector: queries[0]!, maxResults: topK });
    queries.forEach((query, q) => {
      const steps: Step[] = [
        () => {
          const started = performance.now();
          const found = bruteForceScan(matrix, query, topK);
          floor.ms.push(performance.now() - started);
          floor.results.push(found);
        },
        ...variants.map((variant, v): Step => () => {
          const started = performance.now();
          const hits = variant.index.search(variant.storeId, { mode: 'vector', vector: query, maxResults: topK });
          timings[v]!.ms.push(performance.now() - started);
          timings[v]!.results.push(hits.map(corpusIndex));
        }),
        ...extras.map((extra, e): Step => () => {
          const started = performance.now();
          extra.run(query, q);
          extraMs[e]!.push(performance.now() - started);
        }),
      ];
      // Rotate the order so that drift and cache effects do not favour one side.
      for (let s = 0; s < steps.length; s++) steps[(s + q) % steps.length]!();
    });

    const floorP50 = percentile(floor.ms, 50);
    const exact = timings[0]!;
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
    const recalls = timings.map((timing) => mean(timing.results.map((found, q) => recallAt(topK, exact.results[q]!, found))));
    const exactVsFloor = mean(exact.results.map((found, q) => recallAt(topK, floor.results[q]!, found)));

    // Uniform random vectors (no structure for k-means to find): the partitioned bit store, recall
    // against the Float32Array scan, in this run.
    const uniformCount = quick ? 20_000 : 100_000;
    log(`uniform: ${uniformCount} random unit vectors into a bit + ivf store`);
    const uniformRandom = seededRandom(60);
    const uniformVectors = Array.from({ length: uniformCount + queryCount }, () => randomUnitVector(uniformRandom, dimensions));
    const uniformQueries = uniformVectors.splice(uniformCount, queryCount);
    const uniformMatrix = new Float32Array(uniformCount * dimensions);
    uniformVectors.forEach((vector, i) => uniformMatrix.set(vector, i * dimensions));
    const uniformRate = insertStore(base, 'vs_uniform_bit_ivf', { quantization: 'bit', partitioning: 'ivf' }, uniformVectors, texts);
    insertStore(base, 'vs_uniform_bit', { quantization: 'bit' }, uniformVectors, texts);
    const uniformTruth = uniformQueries.map((query) => bruteForceScan(uniformMatrix, query, topK));
    const uniformRows: string[][] = [];
    const uniformVariants = [
      ...([[8, 8], [8, 32], [16, 128]] as const).map(([oversampling, nprobe]) => ({
        name: `bit + ivf, nprobe ${nprobe} (of ${Math.max(16, nprobe / 4)} coarse cells), ×${oversampling} rescored`,
        storeId: 'vs_uniform_bit_ivf',
        idx: new SqliteVectorIndex(db!, { rescoreOversampling: { bit: oversampling }, ivf: { nprobe, coarseProbe: Math.max(16, nprobe / 4) } }),
      })),
      ...[8, 16].map((oversampling) => ({ name: `bit (flat), ×${oversampling} rescored`, storeId: 'vs_uniform_bit', idx: new SqliteVectorIndex(db!, { rescoreOversampling: { bit: oversampling } }) })),
    ];
    for (const { name, storeId, idx } of uniformVariants) {
      idx.search(storeId, { mode: 'vector', vector: uniformQueries[0]!, maxResults: topK });
      const ms: number[] = [];
      let recall = 0;
      uniformQueries.forEach((query, q) => {
        const started = performance.now();
        const hits = idx.search(storeId, { mode: 'vector', vector: query, maxResults: topK });
        ms.push(performance.now() - started);
        recall += recallAt(topK, uniformTruth[q]!, hits.map(corpusIndex)) / queryCount;
      });
      uniformRows.push([`uniform data: ${name}: p50 (p99), recall@10 vs scan`, `${fmt(percentile(ms, 50))} ms (${fmt(percentile(ms, 99))}), recall ${recall.toFixed(3)}`, '—', '—', '—', 'info']);
    }

    const rows: string[][] = [];
    for (const store of stores) rows.push([`insert rate, ${store.label}`, `${insertRates.get(store.storeId)!.toFixed(0)} chunks/s`, '—', '—', '—', 'info']);
    rows.push([
      `partitioned stores: partitions, rows at the last training; one re-partitioning of ${chunkCount.toLocaleString('en')} chunks`,
      `${ivfStats.partitions} partitions, trained at ${ivfStats.trainedRows} rows; ${(repartitionMs / 1000).toFixed(1)} s`,
      '—',
      '—',
      '—',
      'info',
    ]);
    rows.push([
      'top-10 exact query p50 (p99) vs Float32Array scan',
      `${fmt(percentile(exact.ms, 50))} ms (${fmt(percentile(exact.ms, 99))})`,
      `${fmt(floorP50)} ms (${fmt(percentile(floor.ms, 99))})`,
      `${(percentile(exact.ms, 50) / floorP50).toFixed(2)}×`,
      '≤ 1.5×',
      percentile(exact.ms, 50) <= 1.5 * floorP50 ? 'met' : '**not met**',
    ]);
    rows.push(['exact results = scan results (recall@10 of exact vs the scan)', exactVsFloor.toFixed(3), '—', '—', '1.000', exactVsFloor === 1 ? 'met' : '**not met**']);
    variants.forEach((variant, v) => {
      if (v === 0) return;
      const p50 = percentile(timings[v]!.ms, 50);
      const met = p50 <= 5 && recalls[v]! >= 0.95;
      rows.push([
        `top-10 ${variant.name}: p50 (p99), recall@10 vs exact`,
        `${fmt(p50)} ms (${fmt(percentile(timings[v]!.ms, 99))}), recall ${recalls[v]!.toFixed(3)}`,
        `${fmt(floorP50)} ms (scan)`,
        `${(p50 / floorP50).toFixed(2)}×`,
        '≤ 5 ms at recall ≥ 0.95',
        met ? 'met' : '**not met**',
      ]);
    });
    extras.forEach((extra, e) => {
      rows.push([`top-10 ${extra.name}: p50 (p99)`, `${fmt(percentile(extraMs[e]!, 50))} ms (${fmt(percentile(extraMs[e]!, 99))})`, '—', '—', '—', 'info']);
    });
    rows.push([`uniform data: insert rate, bit + ivf store`, `${uniformRate.toFixed(0)} chunks/s`, '—', '—', '—', 'info']);
    rows.push(...uniformRows);
    const header = ['figure', 'llmsvc', 'floor (same run)', 'ratio', 'target', 'verdict'];
    process.stdout.write(`\n${textTable(header, rows)}\n`);

    const machine = machineInfo();
    const date = new Date().toISOString();
    const seconds = (performance.now() - startedAt) / 1000;
    const section = [
      `## ${sectionHeading} — ${date}`,
      '',
      `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}`,
      `- Node ${machine.node}, better-sqlite3 (SQLite ${db.prepare('SELECT sqlite_version()').pluck().get() as string}), sqlite-vec ${db.prepare('SELECT vec_version()').pluck().get() as string}`,
      `- Date: ${date}; the run took ${seconds.toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' / ')} (1 / 5 / 15 min: the machine is shared, so absolute figures are inflated; the ratios to the floor were taken under the same load)`,
      `- Command: \`node --import tsx bench/vectors.ts${quick ? ' --quick' : ''}\``,
      `- Data: ${chunkCount.toLocaleString('en')} chunks of ${dimensions}-d unit vectors in ${chunkCount / 100} clusters (seeded; centre + Gaussian noise of equal norm, cosine ≈ 0.5 within a cluster), ${queryCount} held-out queries from the same clusters; files of ${chunksPerFile} chunks with a \`topic\` attribute (100 values) and 26 words of text each`,
      '',
      markdownTable(header, rows),
      '',
      'How each figure is taken:',
      '',
      '- **Insert**: `SqliteVectorIndex.putFile` of 10 chunks at a time (one transaction per file: chunk rows, vec0, FTS5), on a WAL SQLite file in a temp dir.',
      '- **Queries**: `search({mode: "vector", maxResults: 10})` through the index API (SQL, rescoring, loading text and attributes), one warm-up, then every query runs the scan and every variant with the order rotated per query. p99 of 100 samples is close to the maximum.',
      '- **Floor**: a loop over one `Float32Array` of the same (unit) vectors computing dot products and keeping the best 10, in this process.',
      '- **Quantized**: vec0 over int8 (scale per vector) or bit (sign) vectors for 10 × oversampling candidates, rescored with `vec_distance_cosine` against the float32 vectors kept in the chunks table; recall@10 against the exact search of the same query in this run.',
      '- **Quantized + ivf** (`partitioning: \'ivf\'`): the same codes in a plain table clustered by partition; ~4·√N partitions from two-level spherical k-means (trained automatically at 4,096 chunks and re-trained at each 4× growth, inside the insert figures); a query routes to its nprobe nearest partitions (among the partitions of its 16 nearest coarse cells unless the row says otherwise; a chunk is assigned among those of its 8 nearest), takes 10 × oversampling candidates from their codes by Hamming (bit) or cosine (int8) distance in SQL, and rescores them as above.',
      `- **Uniform**: ${uniformCount.toLocaleString('en')} uniformly random unit vectors (no clusters) in a bit + ivf store and a flat bit store; recall@10 against the Float32Array scan of the same vectors (queries run one variant after another, not rotated).`,
    ].join('\n');
    writeResultsSection(sectionHeading, section);
    log(`wrote ${path.relative(projectRoot, resultsFile)}; the run took ${seconds.toFixed(0)} s`);
  } finally {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await runBenchmark('vectors', main);
