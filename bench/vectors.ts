// The vector index (issue 6): insert rate, exact and quantized top-10 latency, and recall@10 of the
// quantized searches against the exact results of the same run; the floor is a plain Float32Array
// brute-force scan of the same vectors in this process.
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
import { SqliteVectorIndex, type AttributeFilter, type Quantization, type SearchHit } from '../core/store/vectors/index.js';
import { clusteredVectors, recallAt, seededRandom } from '../test/support/vectors.js';
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

function insertStore(index: SqliteVectorIndex, storeId: string, quantization: Quantization, vectors: Float32Array[], texts: string[]): number {
  index.create(storeId, { dimensions, quantization });
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
    const insertRates: Record<Quantization, number> = { none: 0, int8: 0, bit: 0 };
    for (const quantization of ['none', 'int8', 'bit'] as const) {
      log(`inserting ${chunkCount} chunks (quantization ${quantization})`);
      insertRates[quantization] = insertStore(base, `vs_${quantization}`, quantization, vectors, texts);
      log(`  ${insertRates[quantization].toFixed(0)} chunks/s`);
    }

    const variants: Variant[] = [{ name: 'exact (float32)', quantization: 'none', index: base, storeId: 'vs_none' }];
    for (const oversampling of [2, 4]) {
      variants.push({ name: `int8, ×${oversampling} rescored`, quantization: 'int8', oversampling, storeId: 'vs_int8', index: new SqliteVectorIndex(db, { rescoreOversampling: { int8: oversampling } }) });
    }
    for (const oversampling of [4, 8, 16]) {
      variants.push({ name: `bit, ×${oversampling} rescored`, quantization: 'bit', oversampling, storeId: 'vs_bit', index: new SqliteVectorIndex(db, { rescoreOversampling: { bit: oversampling } }) });
    }
    const filter: AttributeFilter = { type: 'eq', key: 'topic', value: 7 };
    const extras: { name: string; run: (query: Float32Array, i: number) => unknown }[] = [
      { name: 'exact, filter matching 1% of files', run: (query) => base.search('vs_none', { mode: 'vector', vector: query, maxResults: topK, filter }) },
      { name: 'bit ×8, filter matching 1% of files', run: (query) => variants[5]!.index.search('vs_bit', { mode: 'vector', vector: query, maxResults: topK, filter }) },
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

    const rows: string[][] = [];
    rows.push(['insert rate, float32 store (putFile of 10 chunks, with FTS5)', `${insertRates.none.toFixed(0)} chunks/s`, '—', '—', '—', 'info']);
    rows.push(['insert rate, int8 store', `${insertRates.int8.toFixed(0)} chunks/s`, '—', '—', '—', 'info']);
    rows.push(['insert rate, bit store', `${insertRates.bit.toFixed(0)} chunks/s`, '—', '—', '—', 'info']);
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
    ].join('\n');
    writeResultsSection(sectionHeading, section);
    log(`wrote ${path.relative(projectRoot, resultsFile)}; the run took ${seconds.toFixed(0)} s`);
  } finally {
    db?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await runBenchmark('vectors', main);
