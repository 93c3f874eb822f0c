// Air-gapped lifecycle (issue 16): bundle size and creation time (tiny model, CPU-only), install
// time from the bundle vs `tar xf` of it, and `llmsvc backup` of a data dir with 100k request-log
// rows and a 10k-chunk vector store vs `tar czf` of the same data dir, alternated in one run.
//   node --import tsx bench/lifecycle.ts [--quick] [--no-bundle]
// Needs dist/ built (npx tsc -p tsconfig.json). The machine is shared: read the ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../core/store/database.js';
import { RequestLogRepository } from '../core/store/requestLog.js';
import { SqliteVectorIndex } from '../core/store/vectors/index.js';
import { randomUnitVector, seededRandom } from '../test/support/vectors.js';
import { assertBuilt, benchLogger, cliPath, machineInfo, markdownTable, median, runBenchmark, textTable, tinyModelPath, writeResultsSection } from './support.js';

const log = benchLogger('lifecycle');
const quick = process.argv.includes('--quick');
const withBundle = !process.argv.includes('--no-bundle');
const rows = quick ? 10_000 : 100_000;
const chunks = quick ? 1_000 : 10_000;
const runs = quick ? 1 : 3;

function duBytes(target: string): number {
  return Number(execFileSync('du', ['-sb', target], { encoding: 'utf8' }).split('\t')[0]);
}

function timed(command: string, args: string[], options: { cwd?: string } = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: options.cwd, maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function fillDataDir(dir: string): void {
  const db = openDatabase(path.join(dir, 'llmsvc.sqlite'));
  const requestLog = new RequestLogRepository(db);
  const now = Date.now();
  db.transaction(() => {
    for (let i = 0; i < rows; i++) {
      requestLog.insert({
        id: `req_${i}`, createdAt: now - (rows - i) * 1000, route: '/v1/chat/completions', method: 'POST', model: 'llama-2-tiny-random',
        status: 200, promptTokens: 20 + (i % 50), completionTokens: 40 + (i % 90), latencyMs: 120 + (i % 300), ttftMs: 15 + (i % 20),
        stream: i % 3 === 0, errorCode: null, promptText: null, keyId: `key_${i % 20}`,
      });
    }
  })();
  const index = new SqliteVectorIndex(db);
  index.create('vs_bench', { dimensions: 384, quantization: 'none' });
  const random = seededRandom(7);
  const perFile = 100;
  for (let file = 0; file < chunks / perFile; file++) {
    index.putFile('vs_bench', `file_${file}`, {}, Array.from({ length: perFile }, (_, i) => ({
      index: i,
      text: `Chunk ${i} of file ${file}: ${'lorem ipsum dolor sit amet '.repeat(20)}`,
      embedding: randomUnitVector(random, 384),
    })));
  }
  db.close();
  fs.writeFileSync(path.join(dir, 'admin.key'), 'sk-llmsvc-bench\n', { mode: 0o600 });
}

await runBenchmark('lifecycle', async () => {
  assertBuilt();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-bench-lifecycle-'));
  const table: string[][] = [];
  try {
    // ---- backup vs tar czf ----
    const data = path.join(work, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    log(`filling a data dir: ${rows} request-log rows, ${chunks} chunks (384 dimensions)`);
    fillDataDir(data);
    const dataBytes = duBytes(data);
    const backupTimes: number[] = [];
    const tarTimes: number[] = [];
    let backupBytes = 0;
    let tarBytes = 0;
    for (let run = 0; run < runs; run++) {
      const out = path.join(work, `backup-${run}`);
      backupTimes.push(timed(process.execPath, [cliPath, 'backup', '--data-dir', data, '--out', out]));
      backupBytes = duBytes(out);
      fs.rmSync(out, { recursive: true });
      const tgz = path.join(work, `data-${run}.tgz`);
      tarTimes.push(timed('tar', ['czf', tgz, '-C', data, '.']));
      tarBytes = fs.statSync(tgz).size;
      fs.rmSync(tgz);
      log(`run ${run + 1}/${runs}: backup ${backupTimes.at(-1)!.toFixed(2)} s, tar czf ${tarTimes.at(-1)!.toFixed(2)} s`);
    }
    const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    table.push([`backup time, data dir of ${mib(dataBytes)} (${rows} log rows, ${chunks} chunks)`, `${median(backupTimes).toFixed(2)} s`, `tar czf: ${median(tarTimes).toFixed(2)} s`, `${(median(backupTimes) / median(tarTimes)).toFixed(2)}×`]);
    table.push(['backup size', mib(backupBytes), `tar czf: ${mib(tarBytes)}`, `${(backupBytes / tarBytes).toFixed(2)}×`]);

    // ---- bundle create, install ----
    if (withBundle) {
      const models = path.join(work, 'models');
      fs.mkdirSync(models);
      fs.copyFileSync(tinyModelPath, path.join(models, path.basename(tinyModelPath)));
      const bundle = path.join(work, 'llmsvc.tar');
      const createSeconds = timed(process.execPath, [cliPath, 'bundle', 'create', '--out', bundle, '--models-dir', models, '--all-models', '--no-gpu']);
      const bundleBytes = fs.statSync(bundle).size;
      table.push(['bundle create (CPU-only, tiny model)', `${createSeconds.toFixed(1)} s`, '—', 'info']);
      table.push(['bundle size', mib(bundleBytes), '—', 'info']);
      const extract = path.join(work, 'x');
      fs.mkdirSync(extract);
      const untar = timed('tar', ['xf', bundle, '-C', extract]);
      const dir = path.join(extract, fs.readdirSync(extract)[0]!);
      const install = timed(path.join(dir, 'install.sh'), ['--prefix', path.join(work, 'prefix'), '--data-dir', path.join(work, 'installed-data'), '--no-service']);
      table.push(['install.sh (verify, copy, migrate, import model)', `${install.toFixed(1)} s`, `tar xf of the bundle: ${untar.toFixed(1)} s`, `${(install / untar).toFixed(1)}×`]);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const header = ['figure', 'llmsvc', 'peer (same run)', 'ratio'];
  process.stdout.write(`${textTable(header, table)}\n`);
  const machine = machineInfo();
  const stamp = new Date().toISOString();
  writeResultsSection('Air-gapped lifecycle (issue 16)', `## Air-gapped lifecycle (issue 16) — ${stamp}

- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}; shared with other work during the run (noisy: read the ratios)
- Node ${machine.node}; ${runs} alternated run(s) per backup figure, medians
- Command: \`node --import tsx bench/lifecycle.ts${quick ? ' --quick' : ''}${withBundle ? '' : ' --no-bundle'}\`

${markdownTable(header, table)}

The backup is uncompressed (SQLite's online backup API copies pages; every file gets a SHA-256 in
the manifest) and runs while the server serves; \`tar czf\` of a live data dir can capture a
database mid-write and compresses. The install verifies every file of the bundle twice
(\`sha256sum -c\`, then \`llmsvc bundle verify\`) before copying it.
`);
});
