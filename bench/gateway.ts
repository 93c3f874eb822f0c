// Gateway overhead (issue 5): llmsvc routing a chat completion to a fast static upstream on loopback,
// with auth, limits, request logging (pino at info) and metrics on, against the Portkey gateway
// (@portkey-ai/gateway) proxying the same upstream under the same load, and against the upstream
// called directly (the floor).
//
//   node --import tsx bench/gateway.ts [--quick] [--no-profile] [--tsx | --cli <main.js>]
//
// Every server is its own process: bench/staticUpstream.ts, `llmsvc serve` (the build in dist/, as
// users run it; --tsx: from the sources through tsx) with a config file that routes model "bench"
// to the upstream, Portkey's Node server, and bench/bareProxy.ts (node:http + undici and nothing
// else: the floor of a Node gateway here). Load comes from autocannon in this process. See
// bench/README.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { summarizeProfile, topEntries } from './cpuProfile.js';
import {
  autocannonVersion,
  checkAnswers,
  cli,
  connections,
  directTarget,
  fmt,
  fmt0,
  llmsvcTarget,
  machineLine,
  messages,
  orderOf,
  paced,
  pacedAutocannon,
  pacedMaxOutstanding,
  pacedWarmupSeconds,
  portkeyTarget as portkeyTargetOf,
  portkeyVersion,
  range,
  removeTempDirs,
  saturate,
  show,
  startBareProxy,
  startLlmsvc,
  startPortkey,
  startUpstream,
  unusedKey,
  upstreamBody,
  type Llmsvc,
  type LoadRun,
  type PacedRun,
  type Target,
} from './gatewayParts.js';
import { adminKey, assertBuilt, benchLogger, cleanUp, cliPath, median, projectRoot, runBenchmark, sleep, stopChild, workDir, writeResultsSection } from './support.js';

const log = benchLogger('gateway');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const profiling = !argv.includes('--no-profile');

const loadSeconds = quick ? 5 : 10;
const rounds = quick ? 1 : 2;
const pacedRate = 1000;
const pacedSeconds = quick ? 5 : 8;
const sectionHeading = 'Gateway overhead (issue 5)';

/** temperature 0: the response cache's candidate. */
const cacheBody = JSON.stringify({ model: 'bench', messages, max_tokens: 16, temperature: 0 });

async function metricCount(server: Llmsvc): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } })).text();
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('llmsvc_http_requests_total{') && line.includes('route="/v1/chat/completions"') && line.includes('status="200"')) count += Number(line.split(' ').at(-1));
  }
  return count;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();

  if (cli === cliPath) assertBuilt();
  log('starting the static upstream, llmsvc (3 configurations), Portkey and the bare proxy …');
  const upstream = await startUpstream();
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/v1`;
  const full = await startLlmsvc('llmsvc', upstream.port, { log_level: 'info', auth: true });
  const quiet = await startLlmsvc('llmsvc, log warn', upstream.port, { log_level: 'warn', auth: true });
  const bare = await startLlmsvc('llmsvc, log warn, auth off', upstream.port, { log_level: 'warn', auth: false });
  const portkey = await startPortkey();
  const bareProxy = await startBareProxy([upstream.port]);

  const direct = directTarget(upstream);
  const portkeyTarget = portkeyTargetOf(portkey, upstreamUrl);
  const floor: Target = {
    name: 'bare Node proxy (floor)',
    url: `http://127.0.0.1:${bareProxy.port}/v1/chat/completions`,
    headers: { 'content-type': 'application/json', authorization: unusedKey },
    body: upstreamBody,
    pid: bareProxy.child.pid!,
  };
  const llmsvc = llmsvcTarget(full);
  const targets = [direct, portkeyTarget, llmsvc, llmsvcTarget(quiet), llmsvcTarget(bare), floor];

  // Each answers correctly before any load.
  await checkAnswers(targets);

  log(`warming up each target (${quick ? 2 : 3} s at ${connections} connections) …`);
  for (const target of targets) await saturate(target, upstream.child.pid!, 0, quick ? 2 : 3);

  // --- 1. Throughput at 32 connections ---------------------------------------------------------
  const loadRuns: LoadRun[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const target of orderOf(targets, round)) {
      loadRuns.push(await saturate(target, upstream.child.pid!, round, loadSeconds));
      await sleep(500);
    }
  }

  // --- 2. Fixed rate: added latency -----------------------------------------------------------
  const pacedRuns: PacedRun[] = [];
  // Also a rate llmsvc sustains on this machine (30% of its RPS at 32 connections, at most the
  // target rate): on a loaded machine 1,000/s may be past its saturation, and then the p50 is queueing.
  const llmsvcRps = median(loadRuns.filter((run) => run.target === llmsvc.name).map((run) => run.rps));
  const lowRate = Math.max(20, Math.min(pacedRate, Math.round((0.3 * llmsvcRps) / 10) * 10));
  const rates = lowRate < pacedRate ? [pacedRate, lowRate] : [pacedRate];
  for (let round = 1; round <= rounds; round++) {
    for (const rate of rates.slice(1)) {
      for (const target of orderOf([direct, floor, llmsvc], round)) {
        const own = await paced(target, rate, pacedSeconds);
        pacedRuns.push({ ...own, round, rate, client: 'hrtime' });
        log(`${target.name} r${round} paced ${rate}/s (hrtime client): p50 ${fmt(own.p50, 3)} ms, p99 ${fmt(own.p99, 3)} ms, ${fmt0(own.achievedRps)}/s, skipped ${own.skipped}`);
        await sleep(300);
      }
    }
    for (const target of orderOf([direct, floor, llmsvc], round)) {
      const own = await paced(target, pacedRate, pacedSeconds);
      pacedRuns.push({ ...own, round, rate: pacedRate, client: 'hrtime' });
      log(`${target.name} r${round} paced ${pacedRate}/s (hrtime client): p50 ${fmt(own.p50, 3)} ms, p99 ${fmt(own.p99, 3)} ms, ${fmt0(own.achievedRps)}/s, skipped ${own.skipped}`);
      await sleep(300);
    }
    for (const target of orderOf([direct, llmsvc], round + 1)) {
      const ac = await pacedAutocannon(target, pacedRate, pacedSeconds);
      pacedRuns.push({ ...ac, round, rate: pacedRate, client: 'autocannon' });
      log(`${target.name} r${round} paced ${pacedRate}/s (autocannon): p50 ${ac.p50} ms, p99 ${ac.p99} ms, ${fmt0(ac.achievedRps)}/s`);
      await sleep(300);
    }
  }

  // --- 3. The cache-hit path --------------------------------------------------------------------
  const cacheTarget = llmsvcTarget(full, cacheBody, 'llmsvc, cache hit (temperature 0)');
  const cacheHeaders: string[] = [];
  for (let i = 0; i < 5; i++) {
    const response = await fetch(cacheTarget.url, { method: 'POST', headers: cacheTarget.headers, body: cacheTarget.body });
    await response.arrayBuffer();
    cacheHeaders.push(response.headers.get('x-llmsvc-cache') ?? '(none)');
  }
  const cacheWired = cacheHeaders.slice(1).every((value) => value === 'hit');
  log(`x-llmsvc-cache on 5 identical temperature-0 requests: ${cacheHeaders.join(', ')}`);
  const cacheLoadRuns: LoadRun[] = [];
  const cachePacedRuns: PacedRun[] = [];
  if (cacheWired) {
    for (let round = 1; round <= rounds; round++) {
      for (const target of orderOf([direct, cacheTarget], round)) cacheLoadRuns.push(await saturate(target, upstream.child.pid!, round, loadSeconds));
      for (const target of orderOf([direct, cacheTarget], round)) {
        const own = await paced(target, pacedRate, pacedSeconds);
        const hits = own.headers.filter((h) => h['x-llmsvc-cache'] === 'hit').length;
        if (target === cacheTarget && hits !== own.headers.length) log(`warning: only ${hits} of ${own.headers.length} sampled responses were cache hits`);
        cachePacedRuns.push({ ...own, round, rate: pacedRate, client: 'hrtime' });
      }
    }
  }

  const served = await metricCount(full);
  const llmsvcSent = loadRuns.filter((run) => run.target === llmsvc.name).reduce((sum, run) => sum + run.total, 0);

  // Free the cores for the profile run.
  await Promise.all([quiet.child, bare.child, portkey.child, bareProxy.child].map((child) => stopChild(child)));

  // --- 4. Profile of llmsvc under the same load --------------------------------------------------
  let profileSection = '';
  if (profiling) {
    const profileDir = path.join(workDir, 'gateway-profile');
    fs.rmSync(profileDir, { recursive: true, force: true });
    fs.mkdirSync(profileDir, { recursive: true });
    await stopChild(full.child);
    const profiled = await startLlmsvc('llmsvc (profiled)', upstream.port, { log_level: 'info', auth: true }, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '500'] });
    const target = llmsvcTarget(profiled);
    await saturate(target, upstream.child.pid!, 0, 3);
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    const run = await saturate(target, upstream.child.pid!, 1, loadSeconds);
    const toUs = Number(process.hrtime.bigint() / 1000n);
    await stopChild(profiled.child, 15_000);
    // One file per thread: CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread.
    const file = fs.readdirSync(profileDir).find((name) => /\.0\.\d+\.cpuprofile$/.test(name));
    if (!file) throw new Error(`no .cpuprofile in ${profileDir}`);
    const summary = summarizeProfile(path.join(profileDir, file), projectRoot, { fromUs, toUs });
    const perRequest = (us: number) => us / run.total;
    log(`profile: ${summary.samples} samples in the window, busy ${fmt(summary.busyUs / 1e6)} s, idle ${fmt(summary.idleUs / 1e6)} s, ${run.total} requests`);
    const ownerRows = topEntries(summary.owners, 20).map(([owner, us]) => [owner, `${fmt((100 * us) / summary.busyUs, 1)}%`, fmt(perRequest(us), 0)]);
    const ownerTable = show('Where llmsvc spends its main thread (owner = innermost package or llmsvc module on the stack)', ['owner', 'share of busy CPU', 'µs per request'], ownerRows);
    const functionRows = topEntries(summary.projectInclusive, 25).map(([label, us]) => [label.replaceAll('|', '\\|'), `${fmt((100 * us) / summary.busyUs, 1)}%`, fmt(perRequest(us), 0)]);
    const functionTable = show('llmsvc functions, inclusive (their callees included)', ['function', 'share of busy CPU', 'µs per request'], functionRows);
    const libraryRows = topEntries(
      new Map([...summary.inclusive].filter(([label]) => !summary.projectInclusive.has(label))),
      25,
    ).map(([label, us]) => [label.replaceAll('|', '\\|'), `${fmt((100 * us) / summary.busyUs, 1)}%`, fmt(perRequest(us), 0)]);
    const libraryTable = show('Library and node frames, inclusive', ['function', 'share of busy CPU', 'µs per request'], libraryRows);
    const selfRows = topEntries(summary.self, 25).map(([label, us]) => [label.replaceAll('|', '\\|'), `${fmt((100 * us) / summary.busyUs, 1)}%`, fmt(perRequest(us), 0)]);
    const selfTable = show('Hottest functions, self time', ['function', 'share of busy CPU', 'µs per request'], selfRows);
    profileSection = [
      '### Profile: where llmsvc’s time goes under 32 connections',
      '',
      `\`node --cpu-prof --cpu-prof-interval 500\` on a fresh llmsvc (same config), ${loadSeconds} s at ${connections} connections after a 3 s warm-up; ` +
        `${fmt0(run.rps)} RPS while profiled (p50 ${run.p50} ms), ${fmt0(run.total)} requests, ${summary.samples} samples of the main thread in the load window: ` +
        `busy ${fmt(summary.busyUs / 1e6)} s, idle ${fmt(summary.idleUs / 1e6)} s (${fmt(summary.busyUs / run.total / 1000, 3)} ms busy per request; ` +
        `process CPU incl. other threads and the kernel: ${fmt(run.serverCpuMsPerRequest, 3)} ms per request). The runtime thread (llama.cpp) is idle here and not sampled.`,
      '',
      ownerTable,
      '',
      'Owner: each sample is charged to the innermost frame on its stack that belongs to a package or to an llmsvc file; native and `node:` frames',
      'are charged to their caller (a `writeSync` under pino is pino\'s; a `JSON.stringify` in a route is the route\'s). `core/store` is counted with',
      'SQLite (it is the prepared statements). Frames with no JS caller (socket reads, the HTTP parser, timers) are "node core".',
      '',
      functionTable,
      '',
      libraryTable,
      '',
      selfTable,
    ].join('\n');
  }

  // --- Report ----------------------------------------------------------------------------------
  const loadAfter = os.loadavg();
  const byTarget = (runs: LoadRun[], name: string) => runs.filter((run) => run.target === name);
  const portkeyRps = new Map(byTarget(loadRuns, portkeyTarget.name).map((run) => [run.round, run.rps]));
  const ratioToPortkey = (name: string) =>
    byTarget(loadRuns, name)
      .map((run) => run.rps / (portkeyRps.get(run.round) ?? Number.NaN))
      .filter(Number.isFinite);
  const llmsvcRatios = ratioToPortkey(llmsvc.name);
  const throughputMet = median(llmsvcRatios) >= 3;

  const summaryRows = targets.map((target) => {
    const runs = byTarget(loadRuns, target.name);
    const ratios = target === portkeyTarget ? [1] : ratioToPortkey(target.name);
    return [
      target.name,
      range(runs.map((run) => run.rps), fmt0),
      range(runs.map((run) => run.p50), (v) => fmt(v, 0)),
      range(runs.map((run) => run.p99), (v) => fmt(v, 0)),
      range(ratios, (v) => `${fmt(v)}×`),
      String(runs.reduce((sum, run) => sum + run.non2xx, 0)),
      String(runs.reduce((sum, run) => sum + run.errors, 0)),
      range(runs.map((run) => run.serverCpuMsPerRequest), (v) => fmt(v, 3)),
      runs[0]?.logBytesPerRequest === undefined ? '—' : range(runs.map((run) => run.logBytesPerRequest!), (v) => fmt(v, 0)),
    ];
  });
  const summaryTable = show(
    `Throughput at ${connections} connections, ${loadSeconds} s per run, ${rounds} round(s)`,
    ['target', 'RPS', 'p50 ms', 'p99 ms', '÷ Portkey RPS (same round)', 'non-2xx', 'errors', 'server CPU ms/request', 'log bytes/request'],
    summaryRows,
  );
  const runRows = loadRuns.map((run) => [String(run.round), run.target, fmt0(run.rps), String(run.p50), String(run.p99), fmt(run.mean), String(run.non2xx), String(run.errors), fmt(run.serverCpuMsPerRequest, 3), fmt(run.upstreamCpuMsPerRequest, 3)]);
  const runTable = show('Every run, in the order run', ['round', 'target', 'RPS', 'p50 ms', 'p99 ms', 'mean ms', 'non-2xx', 'errors', 'server CPU ms/req', 'upstream CPU ms/req'], runRows);

  const cpuOf = (name: string) => median(byTarget(loadRuns, name).map((run) => run.serverCpuMsPerRequest));
  const ablation = [
    `- pino request logging at info (one line per request): ${fmt(cpuOf(llmsvc.name) - cpuOf(targets[3]!.name), 3)} ms CPU per request (llmsvc − llmsvc log warn)`,
    `- auth, limits and usage accounting (key lookup by hash, limiter, x-ratelimit headers, usage upsert + key touch in SQLite): ${fmt(cpuOf(targets[3]!.name) - cpuOf(targets[4]!.name), 3)} ms CPU per request (log warn − log warn auth off)`,
    `- everything else (fastify, zod, routing, the undici pool client to the upstream, SSE parse, response build, metrics, request-log insert): ${fmt(cpuOf(targets[4]!.name), 3)} ms CPU per request (auth off, log warn)`,
    `- for scale: Portkey ${fmt(cpuOf(portkeyTarget.name), 3)} ms, the upstream itself ${fmt(cpuOf(direct.name), 3)} ms CPU per request`,
  ];

  const pacedOf = (client: PacedRun['client'], name: string, rate: number) => pacedRuns.filter((run) => run.client === client && run.target === name && run.rate === rate);
  const added = (client: PacedRun['client'], rate = pacedRate, name = llmsvc.name) =>
    pacedOf(client, name, rate).map((run) => run.p50 - (pacedOf(client, direct.name, rate).find((other) => other.round === run.round)?.p50 ?? Number.NaN));
  const addedHr = added('hrtime');
  const floorAddedHr = added('hrtime', pacedRate, floor.name);
  const llmsvcAchieved = median(pacedOf('hrtime', llmsvc.name, pacedRate).map((run) => run.achievedRps));
  const sustained = llmsvcAchieved >= 0.95 * pacedRate && pacedOf('hrtime', llmsvc.name, pacedRate).every((run) => run.skipped === 0);
  const addedMet = sustained && median(addedHr) <= 0.3;
  const addedLow = lowRate < pacedRate ? added('hrtime', lowRate) : [];
  const pacedRows = pacedRuns.map((run) => [
    String(run.round),
    run.client === 'hrtime' ? 'own client (hrtime)' : 'autocannon overallRate',
    run.target,
    String(run.rate),
    fmt0(run.achievedRps),
    String(run.skipped),
    fmt(run.p50, run.client === 'hrtime' ? 3 : 0),
    fmt(run.p90, run.client === 'hrtime' ? 3 : 0),
    fmt(run.p99, run.client === 'hrtime' ? 3 : 0),
    String(run.non2xx),
    String(run.errors),
  ]);
  const pacedTable = show(`Fixed rate ${pacedRate} RPS, ${pacedSeconds} s per run (first ${pacedWarmupSeconds} s not counted by the own client)`, ['round', 'client', 'target', 'rate /s', 'achieved RPS', 'skipped (backlog)', 'p50 ms', 'p90 ms', 'p99 ms', 'non-2xx', 'errors'], pacedRows);

  let cacheText: string;
  if (cacheWired) {
    const cacheRows = [...cacheLoadRuns.map((run) => [String(run.round), `${connections} connections`, run.target, fmt0(run.rps), String(run.p50), String(run.p99), String(run.non2xx + run.errors)]),
      ...cachePacedRuns.map((run) => [String(run.round), `${pacedRate}/s, hrtime`, run.target, fmt0(run.achievedRps), fmt(run.p50, 3), fmt(run.p99, 3), String(run.non2xx + run.errors)])];
    cacheText = show('Cache-hit path', ['round', 'load', 'target', 'RPS', 'p50 ms', 'p99 ms', 'failed'], cacheRows);
  } else {
    cacheText = `Not measured: the response cache is not wired into the request path yet — 5 identical \`temperature: 0\` requests to llmsvc answered \`x-llmsvc-cache\`: ${cacheHeaders.join(', ')}. The benchmark measures the hit path (${connections} connections and ${pacedRate}/s against the direct upstream) as soon as the header says \`hit\`.`;
    process.stdout.write(`\n${cacheText}\n`);
  }

  const section = [
    `## ${sectionHeading} — ${startedAt.toISOString()}`,
    '',
    machineLine(),
    `- Load average (1/5/15 min) before: ${loadBefore.map((v) => v.toFixed(1)).join(' / ')}, after: ${loadAfter.map((v) => v.toFixed(1)).join(' / ')} — the 2 cores were shared with other work, so compare figures of the same round only`,
    `- Command: \`node --import tsx bench/gateway.ts${argv.length ? ` ${argv.join(' ')}` : ''}\`; llmsvc from ${path.relative(projectRoot, cli)}${cli.endsWith('.ts') ? ' through tsx' : ''}; autocannon ${autocannonVersion} in the benchmark process; the run took ${fmt0((Date.now() - startedAt.getTime()) / 1000)} s`,
    `- Upstream: \`bench/staticUpstream.ts\` (node:http, prebuilt answers: JSON, or a 7-event SSE stream when the body has \`"stream":true\`; llmsvc passes the client's non-streamed request on as one)`,
    `- llmsvc: \`llmsvc serve --config <file>\` with provider \`{"id":"static","type":"openai-compatible","base_url":"${upstreamUrl.replace(/:\d+\//, ':<port>/')}"}\`, route \`{"model":"bench","targets":[{"provider":"static","model":"m"}]}\`, \`log_level: info\` (one line per request to stderr, written asynchronously), metrics on, auth on with a user key of rpm 10⁹ / tpm 10¹² (checked on every request, never binding), the request log and usage of every request written to SQLite (group commit, at most every 10 ms)`,
    `- Bare Node proxy (floor): \`bench/bareProxy.ts\` — node:http in front, undici's Pool behind, the body passed through untouched; no parsing, auth, limits, logs, metrics or routing`,
    `- Portkey ${portkeyVersion}: \`node node_modules/@portkey-ai/gateway/build/start-server.js --port=<port> --headless\`, headers \`x-portkey-provider: openai\`, \`x-portkey-custom-host: ${upstreamUrl.replace(/:\d+\//, ':<port>/')}\``,
    `- Request: non-streamed \`{"model":"bench","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}\` (model \`m\` for Portkey and direct); default temperature, so never a cache candidate`,
    `- Ablations (same server, config only): \`log_level: warn\` (no per-request log lines), and \`auth: false\` + \`log_level: warn\``,
    '',
    'Targets:',
    '',
    `- RPS at ${connections} connections ≥ 3× Portkey's: llmsvc ${range(llmsvcRatios, (v) => `${fmt(v)}×`)} (per-round ratios): **${throughputMet ? 'met' : 'not met'}**.`,
    `- Added latency p50 at ${pacedRate} RPS ≤ 0.3 ms: ${range(addedHr, (v) => `${fmt(v, 3)} ms`)} (llmsvc p50 − direct p50, same round, own hrtime client; llmsvc achieved ${fmt0(llmsvcAchieved)}/s${sustained ? '' : ', i.e. it did not sustain the rate here and the p50 is mostly queueing'}): **${addedMet ? 'met' : 'not met'}**.` +
      (addedLow.length ? ` At ${lowRate}/s (30% of its saturated RPS here): ${range(addedLow, (v) => `${fmt(v, 3)} ms`)}.` : '') +
      ` For scale, the bare Node proxy (one more HTTP hop, no features) adds ${range(floorAddedHr, (v) => `${fmt(v, 3)} ms`)} at ${pacedRate}/s.`,
    `- Cache-hit path p50: ${cacheWired ? range(cachePacedRuns.filter((run) => run.target === cacheTarget.name).map((run) => run.p50), (v) => `${fmt(v, 3)} ms`) + ` at ${pacedRate}/s` : 'not measured (cache not wired yet)'}.`,
    `- llmsvc counted ${fmt0(served)} chat completions with status 200 in \`llmsvc_http_requests_total\` (the load sent ${fmt0(llmsvcSent)} in the measured runs, plus warm-up, paced and cache runs): metrics were on.`,
    '',
    `### Throughput at ${connections} connections`,
    '',
    summaryTable,
    '',
    `Median (min–max) over ${rounds} round(s) of ${loadSeconds} s, targets alternated (order reversed every round). RPS = completed requests ÷ duration; latency from autocannon (whole ms). Server CPU = user + system time of the gateway process (all threads) ÷ requests; log bytes = what it wrote to stderr.`,
    '',
    runTable,
    '',
    'Where the CPU per request goes, from the ablations (medians of server CPU ms/request above):',
    '',
    ...ablation,
    '',
    `### Added latency at ${pacedRate} RPS`,
    '',
    pacedTable,
    '',
    `Added p50 (llmsvc − direct, same round): bare Node proxy at ${pacedRate}/s ${floorAddedHr.map((v) => `${fmt(v, 3)} ms`).join(', ')}; llmsvc: own client at ${pacedRate}/s ${addedHr.map((v) => `${fmt(v, 3)} ms`).join(', ')}${addedLow.length ? `, at ${lowRate}/s ${addedLow.map((v) => `${fmt(v, 3)} ms`).join(', ')}` : ''}; autocannon at ${pacedRate}/s ${added('autocannon').map((v) => `${fmt(v, 0)} ms`).join(', ')} (whole-ms histogram). ` +
      `The own client is open-loop: a timer sends the requests due every ms over up to 64 keep-alive connections and times each with process.hrtime; with ${pacedMaxOutstanding} requests in flight it skips sends (counted) rather than queue without end. It runs in the benchmark process on the same 2 cores.`,
    '',
    '### Cache-hit path',
    '',
    cacheText,
    ...(profileSection ? ['', profileSection] : []),
  ].join('\n');
  writeResultsSection(sectionHeading.split(' (')[0]!, section);
  log(`wrote the "${sectionHeading}" section of bench/RESULTS.md`);
}

await runBenchmark('gateway', async () => {
  try {
    await main();
  } finally {
    await cleanUp(); // the servers first: their data dirs are in use
    removeTempDirs();
  }
});
