// Start-up benchmark (issue 17): how soon a cold `llmsvc serve` listens, answers /healthz and is
// ready (/readyz 200), what it holds idle, against a bare `node` measured in the same run. Each
// sample is a first start on a fresh data dir and then a restart on that data dir (what an
// appliance does on every boot after its first: the remembered binary test, for one, applies). Prints
// its table; writes nothing (bench/RESULTS.md is the lead's to update).
//
//   node --import tsx bench/startup.ts [--quick] [--baseline <path to another build's main.js>] [--settled-s N]
//
// --baseline measures a second build the same way, alternated with this one (e.g. the main
// checkout's dist/apps/cli/main.js), so a change is compared with what it replaces in one run.
// --settled-s N (default 20; 0 skips it) reads the RSS again N s after ready: what a server that
// sits idle holds once V8 has shrunk its young generation and flushed unused bytecode, which it
// does some seconds into idleness, not 500 ms after start-up.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import {
  adminKey,
  assertBuilt,
  bareNodeRss,
  benchLogger,
  cliPath,
  processCpuMs,
  rssMB,
  runBenchmark,
  sleep,
  spawnTracked,
  stopChild,
  summarize,
  testModelsDir,
  textTable,
  timeNodeRun,
  type Summary,
} from './support.js';

const quick = process.argv.includes('--quick');
const baselineIndex = process.argv.indexOf('--baseline');
const baselineCli = baselineIndex > 0 ? path.resolve(process.argv[baselineIndex + 1] ?? '') : undefined;
const samples = quick ? 3 : 7;
/** RSS is read this long after /readyz first answered 200 (as foundation.ts does). */
const rssSettleMs = 500;
const settledIndex = process.argv.indexOf('--settled-s');
const settledMs = (settledIndex > 0 ? Number(process.argv[settledIndex + 1]) : 20) * 1000;
if (!Number.isFinite(settledMs) || settledMs < 0) throw new Error('--settled-s takes a number of seconds (0 skips the settled RSS)');
/** Not faster: on 2 cores the polling would itself slow the start-up it measures. */
const pollMs = 20;

const log = benchLogger('startup');

interface ServeSample {
  listeningMs: number;
  healthzMs: number;
  /** When /readyz first said `warming` (the runtime thread's modules are loaded); undefined when
   *  no poll caught it (or the build has no such phase). */
  warmingMs: number | undefined;
  readyMs: number;
  /** CPU time of the whole process (every thread) and of its exited children (the binary test
   *  node-llama-cpp forks) until ready. */
  cpuMs: number;
  idleRssMB: number;
  /** RSS settledMs after ready; undefined when not measured. */
  settledRssMB: number | undefined;
}

/** Polls `url` until `done(status, body)` holds; resolves with performance.now() at that answer. */
async function pollUntil(url: string, done: (status: number, body: string) => boolean, timeoutMs = 60_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const response = await fetch(url).catch(() => undefined);
    const body = response ? await response.text() : '';
    if (response && done(response.status, body)) return performance.now();
    await sleep(pollMs);
  }
  throw new Error(`${url} did not answer as expected within ${timeoutMs} ms`);
}

/** CPU ms of a process and its waited-for children, from /proc/<pid>/stat (cutime, cstime). */
function cpuWithChildrenMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return processCpuMs(pid) + (Number(fields[13]) + Number(fields[14])) * 10;
}

/** One cold start of `serve` from `cli` on `dataDir` with the shared test models. */
async function serveSample(cli: string, dataDir: string): Promise<ServeSample> {
  const args = [cli, 'serve', '--port', '0', '--data-dir', dataDir, '--models-dir', testModelsDir, '--threads', '1'];
  const env = { ...process.env, LLMSVC_CACHE: 'false', LLMSVC_ADMIN_KEY: adminKey };
  const spawnedAt = performance.now();
  const child = spawnTracked(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-20_000)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`serve exited with ${code} before listening; stderr:\n${stderr}`)));
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const match = /^llmsvc listening on (http:\/\/\S+)$/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    const listeningAt = performance.now();
    const healthzAt = await pollUntil(`${url}/healthz`, (status) => status === 200);
    let warmingAt: number | undefined;
    const readyAt = await pollUntil(`${url}/readyz`, (status, body) => {
      if (warmingAt === undefined && status === 503 && body.includes('"warming"')) warmingAt = performance.now();
      return status === 200;
    });
    const cpuMs = cpuWithChildrenMs(child.pid!);
    await sleep(rssSettleMs);
    const idleRssMB = rssMB(child.pid!);
    let settledRssMB: number | undefined;
    if (settledMs > 0) {
      await sleep(settledMs - rssSettleMs);
      settledRssMB = rssMB(child.pid!);
    }
    return {
      listeningMs: listeningAt - spawnedAt,
      healthzMs: healthzAt - spawnedAt,
      warmingMs: warmingAt === undefined ? undefined : warmingAt - spawnedAt,
      readyMs: readyAt - spawnedAt,
      cpuMs,
      idleRssMB,
      settledRssMB,
    };
  } finally {
    await stopChild(child);
  }
}

/** A first start of `cli` on a fresh data dir, then a restart on the same one. */
async function firstStartAndRestart(cli: string): Promise<[ServeSample, ServeSample]> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-bench-startup-'));
  try {
    const first = await serveSample(cli, dataDir);
    return [first, await serveSample(cli, dataDir)];
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function fmt(summary: Summary, unit: string): string {
  const digits = summary.median >= 100 ? 0 : 1;
  return `${summary.median.toFixed(digits)}${unit} (${summary.min.toFixed(digits)}–${summary.max.toFixed(digits)})`;
}

function summarizeBuild(runs: ServeSample[]) {
  const warming = runs.flatMap((run) => (run.warmingMs === undefined ? [] : [run.warmingMs]));
  return {
    listening: summarize(runs.map((run) => run.listeningMs)),
    healthz: summarize(runs.map((run) => run.healthzMs)),
    warming: warming.length > 0 ? summarize(warming) : undefined,
    ready: summarize(runs.map((run) => run.readyMs)),
    cpu: summarize(runs.map((run) => run.cpuMs)),
    rss: summarize(runs.map((run) => run.idleRssMB)),
    settledRss: settledMs > 0 ? summarize(runs.map((run) => run.settledRssMB!)) : undefined,
  };
}

function loadLine(): string {
  return os.loadavg().map((load) => load.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  assertBuilt();
  if (baselineCli && !fs.existsSync(baselineCli)) throw new Error(`--baseline ${baselineCli} does not exist`);
  const loadBefore = loadLine();
  const builds = [{ name: 'llmsvc', cli: cliPath }, ...(baselineCli ? [{ name: 'baseline', cli: baselineCli }] : [])];
  const columns = builds.flatMap((build) => [`${build.name} first start`, `${build.name} restart`]);
  const runs = new Map<string, ServeSample[]>(columns.map((column) => [column, []]));
  const bareMs: number[] = [];
  const bareRss: number[] = [];
  log(`${samples} first starts and restarts of ${builds.map((build) => build.name).join(' and ')}, alternated with bare node; load average ${loadBefore}`);
  for (let i = 0; i < samples; i++) {
    bareMs.push(await timeNodeRun(['-e', '']));
    // Alternate which build goes first, so slow drift of the machine hits both.
    for (const build of i % 2 === 0 ? builds : [...builds].reverse()) {
      const [first, restart] = await firstStartAndRestart(build.cli);
      runs.get(`${build.name} first start`)!.push(first);
      runs.get(`${build.name} restart`)!.push(restart);
    }
    bareRss.push(await bareNodeRss(rssSettleMs * 2));
  }
  const bare = { ms: summarize(bareMs), rss: summarize(bareRss) };
  const header = ['figure', ...columns, 'bare node (peer)', 'ratio to peer', 'target'];
  const summaries = columns.map((column) => summarizeBuild(runs.get(column)!));
  const timeRow = (figure: string, pick: (s: ReturnType<typeof summarizeBuild>) => Summary | undefined, target = '—') => [
    figure,
    ...summaries.map((s) => (pick(s) ? fmt(pick(s)!, ' ms') : 'n/a')),
    fmt(bare.ms, ' ms'),
    summaries.map((s) => (pick(s) ? `${(pick(s)!.median / bare.ms.median).toFixed(1)}×` : 'n/a')).join(' / '),
    target,
  ];
  const rows = [
    timeRow('spawn → `listening on` line (peer: `node -e ""` start+exit)', (s) => s.listening),
    timeRow('spawn → `GET /healthz` 200', (s) => s.healthz),
    timeRow('spawn → `GET /readyz` says warming (runtime modules loaded)', (s) => s.warming),
    timeRow('spawn → `GET /readyz` 200', (s) => s.ready, '≤ 1000 ms'),
    [
      'CPU until ready, all threads + forked children',
      ...summaries.map((s) => fmt(s.cpu, ' ms')),
      '—',
      '—',
      '—',
    ],
    [
      `RSS idle, ${rssSettleMs} ms after ready (peer: idle \`node\`)`,
      ...summaries.map((s) => fmt(s.rss, ' MB')),
      fmt(bare.rss, ' MB'),
      summaries.map((s) => `${(s.rss.median / bare.rss.median).toFixed(2)}×`).join(' / '),
      '≤ 120 MB',
    ],
    ...(settledMs > 0
      ? [[
          `RSS idle, ${settledMs / 1000} s after ready (peer: idle \`node\`, ${(rssSettleMs * 2) / 1000} s)`,
          ...summaries.map((s) => fmt(s.settledRss!, ' MB')),
          fmt(bare.rss, ' MB'),
          summaries.map((s) => `${(s.settledRss!.median / bare.rss.median).toFixed(2)}×`).join(' / '),
          '≤ 120 MB',
        ]]
      : []),
  ];
  process.stdout.write(`\n${textTable(header, rows)}\n\n`);
  process.stdout.write(`median (min–max) of ${samples} cold starts each; MB = 10⁶ bytes; load average (1/5/15 min) before: ${loadBefore}, after: ${loadLine()}\n`);
}

await runBenchmark('startup', main);
