// Scale-out (issue 18): what it costs an llmsvc node to keep its state in PostgreSQL and its rate
// limits in Redis instead of SQLite and its own memory, and what three such nodes behind a
// round-robin proxy do, with the Portkey gateway proxying the same static upstream alongside.
//
//   node --import tsx bench/scaleOut.ts [--quick] [--tsx | --cli <main.js>]
//
// PostgreSQL: a server of the benchmark's own (initdb in a temp dir, test/support/postgres.ts)
// unless LLMSVC_BENCH_DATABASE_URL names one (a superuser URL: a database is created on it for the
// run and dropped after). Redis: one of its own (test/support/redis.ts) unless LLMSVC_BENCH_REDIS_URL
// names one (its keys get a prefix of this run). The setting of bench/gateway.ts otherwise: each
// node routes model "bench" to bench/staticUpstream.ts with log level info, metrics, and auth with
// a user key whose rpm/tpm are checked on every request and never bind. See bench/README.md.
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, startPostgres, type PostgresServer } from '../test/support/postgres.js';
import { startRedis, type RedisProcess } from '../test/support/redis.js';
import {
  autocannonVersion,
  checkAnswers,
  cli,
  connections,
  cpuMeter,
  directTarget,
  fmt,
  fmt0,
  llmsvcTarget,
  machineLine,
  orderOf,
  paced,
  pacedMaxOutstanding,
  pacedWarmupSeconds,
  portkeyTarget,
  portkeyVersion,
  range,
  removeTempDirs,
  routedBody,
  saturate,
  show,
  startBareProxy,
  startLlmsvc,
  startPortkey,
  startUpstream,
  type LlmsvcSettings,
  type Target,
} from './gatewayParts.js';
import { assertBuilt, benchLogger, cleanUp, cliPath, median, projectRoot, runBenchmark, sleep, sum, writeResultsSection } from './support.js';

const log = benchLogger('scaleOut');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');

const rounds = quick ? 1 : 2;
const pacedRate = 500;
const pacedSeconds = quick ? 5 : 8;
const loadSeconds = quick ? 5 : 10;
const warmupSeconds = quick ? 2 : 3;
const nodeCount = 3;
const sectionHeading = 'Scale-out: nodes on PostgreSQL + Redis (issue 18)';

/** Whose CPU a run reports: the server(s) measured, the round-robin proxy, and the shared services. */
type CpuGroup = 'server' | 'proxy' | 'upstream' | 'postgres' | 'redis';

interface Subject {
  target: Target;
  /** Process trees per group (a group with no pids is not measured, e.g. a PostgreSQL not started here). */
  pids: Partial<Record<CpuGroup, number[]>>;
}

interface Run {
  target: string;
  round: number;
  kind: 'paced' | 'load';
  /** Requests completed during the run (the paced run's uncounted first second included): CPU's divisor. */
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  skipped: number;
  non2xx: number;
  errors: number;
  /** CPU ms per request of each measured group. */
  cpu: Partial<Record<CpuGroup, number>>;
}

async function measure(subject: Subject, kind: Run['kind'], round: number, upstreamPid: number): Promise<Run> {
  const meters = Object.entries(subject.pids).map(([group, pids]) => [group as CpuGroup, cpuMeter(pids)] as const);
  let run: Omit<Run, 'cpu'>;
  if (kind === 'paced') {
    const own = await paced(subject.target, pacedRate, pacedSeconds);
    run = { target: own.target, round, kind, requests: own.completed, rps: own.achievedRps, p50: own.p50, p99: own.p99, skipped: own.skipped, non2xx: own.non2xx, errors: own.errors };
  } else {
    const load = await saturate(subject.target, upstreamPid, round, loadSeconds);
    run = { target: load.target, round, kind, requests: load.total, rps: load.rps, p50: load.p50, p99: load.p99, skipped: 0, non2xx: load.non2xx, errors: load.errors };
  }
  const cpu = Object.fromEntries(meters.map(([group, used]) => [group, used() / Math.max(1, run.requests)]));
  const cpuText = Object.entries(cpu).map(([group, ms]) => `${group} ${fmt(ms, 3)}`).join(', ');
  log(`${run.target} r${round} ${kind === 'paced' ? `${pacedRate}/s` : `${connections} connections`}: ${fmt0(run.rps)}/s, p50 ${fmt(run.p50, 3)} ms, p99 ${fmt(run.p99, 3)} ms, skipped ${run.skipped}, non-2xx ${run.non2xx}, errors ${run.errors}; CPU ms/req: ${cpuText}`);
  return { ...run, cpu };
}

/** PostgreSQL: the one LLMSVC_BENCH_DATABASE_URL names (a database of this run created on it and
 *  dropped after), else one of the benchmark's own. */
async function sharedDatabase(): Promise<{ server: PostgresServer; url: string; drop(): Promise<void> }> {
  const given = process.env.LLMSVC_BENCH_DATABASE_URL;
  const server = given ? { url: given, stop: async () => undefined } : await startPostgres();
  const name = `llmsvc_bench_scale_out_${process.pid}`;
  const url = await createDatabase(server.url, name);
  const drop = async () => {
    if (given) {
      const client = new pg.Client({ connectionString: given });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).finally(() => client.end());
    }
    await server.stop();
  };
  return { server, url, drop };
}

async function sharedRedis(): Promise<RedisProcess> {
  const given = process.env.LLMSVC_BENCH_REDIS_URL;
  return given ? { url: given, stop: async () => undefined } : startRedis();
}

/** Rows the nodes wrote to PostgreSQL's request log: evidence that the PG nodes' requests went there. */
async function requestLogRows(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>('SELECT count(*) AS count FROM request_log');
    return fmt0(Number(result.rows[0]!.count));
  } catch (error) {
    return `unknown (${(error as Error).message})`;
  } finally {
    await client.end();
  }
}

let stopShared: Array<() => Promise<void>> = [];
/** PostgreSQL and Redis started here are not children support.ts tracks: an interrupted run still
 *  stops them (PostgreSQL's immediate shutdown; its temp dir stays behind). */
const servicePids: number[] = [];
process.once('exit', () => {
  for (const pid of servicePids) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // already stopped
    }
  }
});

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  if (cli === cliPath) assertBuilt();

  log('starting PostgreSQL and Redis (unless given), the static upstream, llmsvc on SQLite, 3 llmsvc nodes on PostgreSQL + Redis, the round-robin proxy and Portkey …');
  const database = await sharedDatabase();
  stopShared.push(database.drop);
  const redis = await sharedRedis();
  stopShared.push(redis.stop);
  for (const pid of [database.server.pid, redis.pid]) if (pid !== undefined) servicePids.push(pid);
  const upstream = await startUpstream();
  const upstreamUrl = `http://127.0.0.1:${upstream.port}/v1`;

  const base: LlmsvcSettings = { log_level: 'info', auth: true };
  const sqliteNode = await startLlmsvc('llmsvc on SQLite', upstream.port, { ...base, rate_limits: 'memory' });
  // Limits in Redis ('redis', not 'auto': a missing redis_url fails the start instead of measuring memory).
  const shared = { ...base, database_url: database.url, redis_url: redis.url, redis_prefix: `llmsvc-bench-${process.pid}:`, rate_limits: 'redis' };
  // The first node migrates the fresh database and creates the user key there; the others share both.
  const pgNodes = [await startLlmsvc('llmsvc on PostgreSQL + Redis', upstream.port, shared)];
  for (let i = 2; i <= nodeCount; i++) pgNodes.push(await startLlmsvc(`llmsvc node ${i} on PostgreSQL + Redis`, upstream.port, shared, { createKey: false }));
  for (const node of pgNodes.slice(1)) node.userKey = pgNodes[0]!.userKey;
  const proxy = await startBareProxy(pgNodes.map((node) => Number(new URL(node.url).port)));
  const portkey = await startPortkey();

  const sharedPids: Partial<Record<CpuGroup, number[]>> = {
    upstream: [upstream.child.pid!],
    ...(database.server.pid === undefined ? {} : { postgres: [database.server.pid] }),
    ...(redis.pid === undefined ? {} : { redis: [redis.pid] }),
  };
  const subject = (target: Target, server: number[], proxyPid?: number): Subject => ({
    target,
    pids: { server, ...(proxyPid === undefined ? {} : { proxy: [proxyPid] }), ...sharedPids },
  });
  const direct = subject(directTarget(upstream), [upstream.child.pid!]);
  const sqlite = subject(llmsvcTarget(sqliteNode), [sqliteNode.child.pid!]);
  const pgNode = subject(llmsvcTarget(pgNodes[0]!), [pgNodes[0]!.child.pid!]);
  const threeNodes = subject(
    {
      name: `${nodeCount} nodes on PostgreSQL + Redis via round-robin proxy`,
      url: `http://127.0.0.1:${proxy.port}/v1/chat/completions`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${pgNodes[0]!.userKey}` },
      body: routedBody,
      pid: proxy.child.pid!,
    },
    pgNodes.map((node) => node.child.pid!),
    proxy.child.pid!,
  );
  const portkeySubject = subject(portkeyTarget(portkey, upstreamUrl), [portkey.child.pid!]);
  const pacedSubjects = [direct, sqlite, pgNode, threeNodes, portkeySubject];
  const loadSubjects = [sqlite, pgNode, threeNodes, portkeySubject];

  // Each answers correctly before any load; each PG node with the key the first one created.
  await checkAnswers([...pacedSubjects.map((s) => s.target), ...pgNodes.slice(1).map((node) => llmsvcTarget(node))]);

  log(`warming up each target (${warmupSeconds} s at ${connections} connections) …`);
  for (const s of pacedSubjects) await saturate(s.target, upstream.child.pid!, 0, warmupSeconds);

  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const s of orderOf(pacedSubjects, round)) {
      runs.push(await measure(s, 'paced', round, upstream.child.pid!));
      await sleep(300);
    }
    for (const s of orderOf(loadSubjects, round + 1)) {
      runs.push(await measure(s, 'load', round, upstream.child.pid!));
      await sleep(500);
    }
  }
  const pgRows = await requestLogRows(database.url);
  const loadAfter = os.loadavg();

  // --- Report ------------------------------------------------------------------------------------
  const of = (kind: Run['kind'], subjectOf: Subject) => runs.filter((run) => run.kind === kind && run.target === subjectOf.target.name);
  const sameRound = (kind: Run['kind'], a: Subject, b: Subject, value: (a: Run, b: Run) => number) =>
    of(kind, a)
      .map((run) => {
        const other = of(kind, b).find((candidate) => candidate.round === run.round);
        return other ? value(run, other) : Number.NaN;
      })
      .filter(Number.isFinite);
  const ms3 = (v: number) => `${fmt(v, 3)} ms`;
  const cpuOf = (kind: Run['kind'], s: Subject, group: CpuGroup) => {
    const values = of(kind, s).map((run) => run.cpu[group]).filter((v): v is number => v !== undefined);
    return values.length ? range(values, (v) => fmt(v, 3)) : '—';
  };

  const pgMinusSqlite = sameRound('paced', pgNode, sqlite, (a, b) => a.p50 - b.p50);
  const pgOverPortkey = sameRound('load', pgNode, portkeySubject, (a, b) => a.rps / b.rps);
  const pgSustained = of('paced', pgNode).every((run) => run.skipped === 0 && run.rps >= 0.95 * pacedRate);
  const latencyMet = pgSustained && median(pgMinusSqlite) <= 0.3;
  const throughputMet = median(pgOverPortkey) >= 3;
  const failed = sum(runs.map((run) => run.non2xx + run.errors));

  const pacedRows = pacedSubjects.map((s) => [
    s.target.name,
    range(of('paced', s).map((run) => run.rps), fmt0),
    String(sum(of('paced', s).map((run) => run.skipped))),
    range(of('paced', s).map((run) => run.p50), (v) => fmt(v, 3)),
    range(of('paced', s).map((run) => run.p99), (v) => fmt(v, 3)),
    s === direct ? '—' : range(sameRound('paced', s, direct, (a, b) => a.p50 - b.p50), (v) => fmt(v, 3)),
    s === direct ? '—' : range(sameRound('paced', s, direct, (a, b) => a.p99 - b.p99), (v) => fmt(v, 3)),
    cpuOf('paced', s, 'server'),
    cpuOf('paced', s, 'proxy'),
    cpuOf('paced', s, 'postgres'),
    cpuOf('paced', s, 'redis'),
    String(sum(of('paced', s).map((run) => run.non2xx))),
    String(sum(of('paced', s).map((run) => run.errors))),
  ]);
  const pacedTable = show(
    `At ${pacedRate} requests/s, ${pacedSeconds} s per run (first ${pacedWarmupSeconds} s not counted), ${rounds} round(s)`,
    ['target', 'achieved /s', 'skipped', 'p50 ms', 'p99 ms', 'added p50 ms', 'added p99 ms', 'server CPU ms/req', 'proxy CPU ms/req', 'PostgreSQL CPU ms/req', 'Redis CPU ms/req', 'non-2xx', 'errors'],
    pacedRows,
  );
  const loadRows = loadSubjects.map((s) => [
    s.target.name,
    range(of('load', s).map((run) => run.rps), fmt0),
    s === portkeySubject ? '1.00×' : range(sameRound('load', s, portkeySubject, (a, b) => a.rps / b.rps), (v) => `${fmt(v)}×`),
    range(of('load', s).map((run) => run.p50), (v) => fmt(v, 0)),
    range(of('load', s).map((run) => run.p99), (v) => fmt(v, 0)),
    cpuOf('load', s, 'server'),
    cpuOf('load', s, 'proxy'),
    cpuOf('load', s, 'postgres'),
    cpuOf('load', s, 'redis'),
    String(sum(of('load', s).map((run) => run.non2xx))),
    String(sum(of('load', s).map((run) => run.errors))),
  ]);
  const loadTable = show(
    `At ${connections} connections (max throughput), ${loadSeconds} s per run, ${rounds} round(s)`,
    ['target', 'RPS', '÷ Portkey RPS (same round)', 'p50 ms', 'p99 ms', 'server CPU ms/req', 'proxy CPU ms/req', 'PostgreSQL CPU ms/req', 'Redis CPU ms/req', 'non-2xx', 'errors'],
    loadRows,
  );
  const runRows = runs.map((run) => [
    String(run.round),
    run.kind === 'paced' ? `${pacedRate}/s` : `${connections} conn.`,
    run.target,
    fmt0(run.rps),
    fmt(run.p50, 3),
    fmt(run.p99, 3),
    String(run.skipped),
    String(run.non2xx),
    String(run.errors),
    (['server', 'proxy', 'upstream', 'postgres', 'redis'] as const).map((group) => (run.cpu[group] === undefined ? '—' : fmt(run.cpu[group]!, 3))).join(' / '),
  ]);
  const runTable = show('Every run, in the order run', ['round', 'load', 'target', 'req/s', 'p50 ms', 'p99 ms', 'skipped', 'non-2xx', 'errors', 'CPU ms/req: server / proxy / upstream / PostgreSQL / Redis'], runRows);
  if (failed > 0) log(`${failed} requests failed (non-2xx or errors): see the tables`);

  const ownServer = database.server.pid !== undefined;
  const section = [
    `## ${sectionHeading} — ${startedAt.toISOString()}`,
    '',
    machineLine(),
    `- Load average (1/5/15 min) before: ${loadBefore.map((v) => v.toFixed(1)).join(' / ')}, after: ${loadAfter.map((v) => v.toFixed(1)).join(' / ')} — every server, PostgreSQL, Redis and the load client share the machine's cores, so compare figures of the same round only`,
    `- Command: \`node --import tsx bench/scaleOut.ts${argv.length ? ` ${argv.join(' ')}` : ''}\`; llmsvc from ${path.relative(projectRoot, cli)}${cli.endsWith('.ts') ? ' through tsx' : ''}; autocannon ${autocannonVersion} and the paced client in the benchmark process; the run took ${fmt0((Date.now() - startedAt.getTime()) / 1000)} s`,
    `- Every llmsvc node: the setting of \`bench/gateway.ts\` — route \`bench\` to \`bench/staticUpstream.ts\`, \`log_level: info\`, metrics on, auth on with a user key of rpm 10⁹ / tpm 10¹² (checked on every request, never binding), request log and usage written for every request; each node its own data dir`,
    `- **SQLite node**: the store in \`<data_dir>/llmsvc.sqlite\`, \`rate_limits: memory\` (the in-process limiter)`,
    `- **PostgreSQL + Redis nodes** (${nodeCount}): \`database_url\` ${ownServer ? 'of a PostgreSQL the benchmark started (`test/support/postgres.ts`: initdb in a temp dir, fsync off)' : 'on the server LLMSVC_BENCH_DATABASE_URL names'}, one database for all; \`redis_url\` ${redis.pid !== undefined ? 'of a redis-server the benchmark started (no persistence)' : 'LLMSVC_BENCH_REDIS_URL'}, \`rate_limits: redis\`, a \`redis_prefix\` of this run. The key was created through the first node's admin API and used on all three. The single-node figures are the first of the three, called directly; PostgreSQL's request log held ${pgRows} rows after the run`,
    `- **Round-robin proxy**: \`bench/bareProxy.ts\` with the three nodes' ports (node:http + one undici Pool per node, taken in turn; body and Authorization passed through)`,
    `- **Portkey ${portkeyVersion}**: \`start-server.js --headless\`, \`x-portkey-provider: openai\`, \`x-portkey-custom-host\` the static upstream`,
    `- Paced runs: an open-loop client in the benchmark process sends ${pacedRate} requests/s (a 1 ms timer, ≤ 64 keep-alive connections, each request timed with process.hrtime, the first ${pacedWarmupSeconds} s not counted, sends skipped and counted when ${pacedMaxOutstanding} are in flight). Added = target − direct upstream, same round. Max throughput: autocannon at ${connections} connections`,
    `- CPU per request: user + system time of each process tree (/proc) over a run ÷ requests completed in it. "server" is the node measured (for ${nodeCount} nodes: the sum of the three), Portkey or the upstream itself; the proxy, PostgreSQL (postmaster and its backends, reaped ones included${ownServer ? '' : ': not measured, not started here'}) and Redis${redis.pid !== undefined ? '' : ' (not measured, not started here)'} separately. Their CPU during the runs of targets that do not use them is the idle PostgreSQL nodes' background work`,
    `- Targets alternated within each round (order reversed every round) after a ${warmupSeconds} s warm-up each at ${connections} connections`,
    '',
    'Targets:',
    '',
    `- PostgreSQL + Redis node p50 − SQLite node p50 at ${pacedRate}/s ≤ 0.3 ms: ${range(pgMinusSqlite, ms3)} (same round)${pgSustained ? '' : '; the PostgreSQL + Redis node did not sustain the rate here, so its p50 is partly queueing'}: **${latencyMet ? 'met' : 'not met'}**.`,
    `- PostgreSQL + Redis node RPS ≥ 3× Portkey's at ${connections} connections: ${range(pgOverPortkey, (v) => `${fmt(v)}×`)} (per-round ratios): **${throughputMet ? 'met' : 'not met'}**.`,
    `- Failed requests (non-2xx or errors) over every measured run: ${failed}.`,
    '',
    `### At ${pacedRate} requests/s`,
    '',
    pacedTable,
    '',
    `Median (min–max) over ${rounds} round(s). The ${nodeCount} nodes share this machine's cores with each other, the proxy, PostgreSQL, Redis and the load client: their sum of CPU per request, not their throughput, is the figure that carries over to nodes on machines of their own.`,
    '',
    `### At ${connections} connections`,
    '',
    loadTable,
    '',
    runTable,
  ].join('\n');
  writeResultsSection(sectionHeading.split(' (')[0]!, section);
  log(`wrote the "${sectionHeading}" section of bench/RESULTS.md`);
}

await runBenchmark('scaleOut', async () => {
  try {
    await main();
  } finally {
    await cleanUp(); // the servers first: their data dirs and the database are in use
    removeTempDirs();
    for (const stop of stopShared.reverse()) await stop().catch((error: unknown) => log(`cleanup: ${(error as Error).message}`));
    stopShared = [];
    servicePids.length = 0;
  }
});
