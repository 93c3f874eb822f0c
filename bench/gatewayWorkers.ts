// Gateway throughput with several HTTP workers (issue 18): `llmsvc serve --workers N` against one
// worker and the Portkey gateway, in the same run, all proxying one static upstream on loopback
// (the setting of bench/gateway.ts: auth on with a user key whose rpm/tpm are checked on every
// request and never bind, log level info, metrics and the request log on).
//
//   node --import tsx bench/gatewayWorkers.ts [--workers 2] [--seconds 10] [--rounds 2] [--no-limits]
//
// --no-limits: the user key has no rpm/tpm, so its requests skip the limiter (and, with several
// workers, the message to the primary): the difference is the cost of the shared limits.
//
// Server CPU per request is the user + system time of the server's whole process tree (the
// primary and its workers, every thread) ÷ requests. Prints the table; writes nothing to
// bench/RESULTS.md.
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { portkeyTarget, routedBody, startPortkey, startUpstream, treeCpuMs, type Target } from './gatewayParts.js';
import { adminKey, assertBuilt, benchLogger, cleanUp, cliPath, drain, median, runBenchmark, sleep, spawnTracked, textTable, waitForLine } from './support.js';

const log = benchLogger('gateway-workers');
const argv = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = argv.indexOf(name);
  return index >= 0 ? Number(argv[index + 1]) : fallback;
};
const workers = option('--workers', 2);
const seconds = option('--seconds', 10);
const rounds = option('--rounds', 2);
const noLimits = argv.includes('--no-limits');
const connections = 32;

async function startLlmsvc(name: string, upstreamPort: number, workerCount: number): Promise<Target> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsvc-workers-bench-'));
  fs.mkdirSync(path.join(dir, 'models'));
  const configFile = path.join(dir, 'config.json');
  fs.writeFileSync(
    configFile,
    JSON.stringify({
      log_level: 'info',
      default_model: false,
      providers: [{ id: 'static', type: 'openai-compatible', base_url: `http://127.0.0.1:${upstreamPort}/v1` }],
      routes: [{ model: 'bench', targets: [{ provider: 'static', model: 'm' }] }],
    }),
  );
  const args = [cliPath, 'serve', '--config', configFile, '--port', '0', '--data-dir', path.join(dir, 'data'), '--models-dir', path.join(dir, 'models'), '--workers', String(workerCount)];
  const child = spawnTracked(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LLMSVC_ADMIN_KEY: adminKey } });
  const url = (await waitForLine(child, /^llmsvc listening on (http:\/\/\S+)$/, name, drain(child).tail))[1]!;
  const response = await fetch(`${url}/admin/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(noLimits ? { name: 'bench' } : { name: 'bench', rpm: 1_000_000_000, tpm: 1_000_000_000_000 }),
  });
  const { key } = (await response.json()) as { key: string };
  return { name, url: `${url}/v1/chat/completions`, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body: routedBody, pid: child.pid! };
}

interface Run {
  target: string;
  round: number;
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  cpuMsPerRequest: number;
}

async function saturate(target: Target, round: number, duration: number): Promise<Run> {
  const cpu = treeCpuMs(target.pid);
  const result = await autocannon({ url: target.url, method: 'POST', headers: target.headers, body: target.body, connections, duration });
  const total = result.requests.total;
  const run = {
    target: target.name,
    round,
    rps: total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuMsPerRequest: (treeCpuMs(target.pid) - cpu) / Math.max(1, total),
  };
  log(`${target.name} r${round}: ${run.rps.toFixed(0)} RPS, p50 ${run.p50} ms, p99 ${run.p99} ms, failed ${run.failed}, server CPU ${run.cpuMsPerRequest.toFixed(3)} ms/req`);
  return run;
}

async function main(): Promise<void> {
  assertBuilt();
  const loadBefore = os.loadavg();
  const upstreamPort = (await startUpstream()).port;
  const upstreamUrl = `http://127.0.0.1:${upstreamPort}/v1`;
  const one = await startLlmsvc('llmsvc, 1 worker', upstreamPort, 1);
  const many = await startLlmsvc(`llmsvc, --workers ${workers}`, upstreamPort, workers);
  const portkey = portkeyTarget(await startPortkey(), upstreamUrl);
  const targets = [portkey, one, many];
  for (const target of targets) {
    const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${target.name} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  for (const target of targets) await saturate(target, 0, 2); // warm-up
  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
      runs.push(await saturate(target, round, seconds));
      await sleep(500);
    }
  }
  const loadAfter = os.loadavg();
  const portkeyRps = new Map(runs.filter((run) => run.target === portkey.name).map((run) => [run.round, run.rps]));
  const rows = targets.map((target) => {
    const mine = runs.filter((run) => run.target === target.name);
    const ratios = mine.map((run) => run.rps / portkeyRps.get(run.round)!);
    const span = (values: number[], digits: number, suffix = '') =>
      `${median(values).toFixed(digits)}${suffix} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}${suffix})`;
    return [
      target.name,
      span(mine.map((run) => run.rps), 0),
      span(mine.map((run) => run.p50), 0),
      span(mine.map((run) => run.p99), 0),
      span(ratios, 2, '×'),
      String(mine.reduce((sum, run) => sum + run.failed, 0)),
      span(mine.map((run) => run.cpuMsPerRequest), 3),
    ];
  });
  const header = ['target', 'RPS', 'p50 ms', 'p99 ms', '÷ Portkey (same round)', 'failed', 'server CPU ms/req (process tree)'];
  process.stdout.write(`\nUser key: ${noLimits ? 'no limits (the limiter is skipped)' : 'rpm 10⁹, tpm 10¹² (checked on every request, never binding)'}`);
  process.stdout.write(`\n${connections} connections, ${seconds} s per run, ${rounds} rounds (order reversed every round), median (min–max)\n${textTable(header, rows)}\n`);
  process.stdout.write(`\nEvery run:\n${textTable(['round', 'target', 'RPS', 'p50', 'p99', 'failed', 'CPU ms/req'], runs.map((run) => [String(run.round), run.target, run.rps.toFixed(0), String(run.p50), String(run.p99), String(run.failed), run.cpuMsPerRequest.toFixed(3)]))}\n`);
  process.stdout.write(
    `\nMachine: nproc ${execSync('nproc').toString().trim()}, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; load average before ${loadBefore.map((v) => v.toFixed(1)).join(' / ')}, after ${loadAfter.map((v) => v.toFixed(1)).join(' / ')}\n`,
  );
}

await runBenchmark('gateway-workers', async () => {
  try {
    await main();
  } finally {
    await cleanUp();
  }
});
