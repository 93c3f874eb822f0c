// The admin API's live snapshot and `llmsvc top`, measured:
// 1. server CPU per GET /admin/v1/stats against a bare GET /healthz, the same server in the same
//    run, rounds alternated (target: /stats ≤ 2× /healthz, and ≤ 1 ms);
// 2. `llmsvc top`'s own CPU at its 1 Hz refresh over a minute, in a real terminal (tmux), while
//    the server takes a request a second (target: ≤ 3% of one core).
// Run: npx tsc -p tsconfig.json && node --import tsx bench/adminStats.ts
import { execFileSync } from 'node:child_process';
import {
  assertBuilt,
  assertTinyModel,
  benchLogger,
  cliPath,
  machineInfo,
  markdownTable,
  median,
  processCpuMs,
  runBenchmark,
  sleep,
  startServe,
  testModelsDir,
  tinyModelId,
  writeResultsSection,
} from './support.js';

const log = benchLogger('adminStats');
const requestsPerRound = 1500;
const rounds = 4;
const topSeconds = 60;

async function hammer(url: string, path: string, headers: Record<string, string>, count: number): Promise<void> {
  // Sequential, keep-alive: the server's CPU per request, not its concurrency, is the figure.
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}${path}`, { headers });
    if (response.status !== 200) throw new Error(`${path}: ${response.status}`);
    await response.arrayBuffer();
  }
}

await runBenchmark('adminStats', async () => {
  assertBuilt();
  assertTinyModel();
  const started = Date.now();
  const serve = await startServe({ modelsDir: testModelsDir });
  const auth = { authorization: `Bearer ${serve.apiKey}` };
  const chat = () =>
    fetch(`${serve.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: tinyModelId, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, seed: 1 }),
    }).then((response) => response.arrayBuffer());
  // Traffic first, so the snapshot has a loaded model, figures and TTFT histograms to walk.
  for (let i = 0; i < 20; i++) await chat();

  const perRequest = { stats: [] as number[], healthz: [] as number[] };
  await hammer(serve.url, '/admin/v1/stats', auth, 200); // warm-up (JIT, runtime stats cache)
  await hammer(serve.url, '/healthz', {}, 200);
  for (let round = 0; round < rounds; round++) {
    for (const [name, path, headers] of (round % 2 === 0
      ? [['stats', '/admin/v1/stats', auth], ['healthz', '/healthz', {}]]
      : [['healthz', '/healthz', {}], ['stats', '/admin/v1/stats', auth]]) as ['stats' | 'healthz', string, Record<string, string>][]) {
      const before = processCpuMs(serve.pid);
      await hammer(serve.url, path, headers, requestsPerRound);
      perRequest[name].push((processCpuMs(serve.pid) - before) / requestsPerRound);
    }
    log(`round ${round + 1}: /stats ${perRequest.stats.at(-1)!.toFixed(3)} ms CPU, /healthz ${perRequest.healthz.at(-1)!.toFixed(3)} ms CPU`);
  }
  const statsMs = median(perRequest.stats);
  const healthzMs = median(perRequest.healthz);
  const statsBytes = (await (await fetch(`${serve.url}/admin/v1/stats`, { headers: auth })).arrayBuffer()).byteLength;

  // llmsvc top in tmux (it needs a terminal), 100×30, on its own tmux server.
  const socket = `llmsvc-bench-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-x', '100', '-y', '30', `exec env LLMSVC_ADMIN_KEY=${serve.apiKey} ${process.execPath} ${cliPath} top --url ${serve.url}`);
  let topCpuPercent: number;
  try {
    const topPid = Number(tmux('display-message', '-p', '#{pane_pid}').trim());
    await sleep(8000); // start-up (module loading) is not the steady state
    const traffic = setInterval(() => void chat().catch(() => {}), 1000);
    const before = processCpuMs(topPid);
    const t0 = performance.now();
    await sleep(topSeconds * 1000);
    topCpuPercent = ((processCpuMs(topPid) - before) / (performance.now() - t0)) * 100;
    clearInterval(traffic);
    log(`top: ${topCpuPercent.toFixed(2)}% of one core over ${topSeconds} s`);
    log(`top's pane at the end:\n${tmux('capture-pane', '-p')}`);
  } finally {
    tmux('kill-server');
  }
  await serve.stop();

  const machine = machineInfo();
  const ratio = statsMs / healthzMs;
  const section = [
    `## Admin API stats and llmsvc top (issue 14) — ${new Date().toISOString()}`,
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}; Node ${machine.node}`,
    '- The machine is shared with other engineers\' builds and tests and was noisy during this run: read the ratio, not the absolute figures.',
    `- Command: \`node --import tsx bench/adminStats.ts\`; the run took ${Math.round((Date.now() - started) / 1000)} s`,
    `- Server CPU: user + system time of the serve process (all threads) over ${rounds} alternating rounds of ${requestsPerRound} sequential keep-alive requests each, divided by the requests; the snapshot held one loaded model after 20 chat requests (${statsBytes} bytes of JSON).`,
    `- top: \`llmsvc top\` in tmux (100×30) on the stats stream (1 Hz), the server taking one chat request a second; CPU of the top process over ${topSeconds} s after an 8 s start.`,
    '',
    markdownTable(
      ['figure', 'llmsvc', 'peer (same run)', 'ratio', 'target', 'verdict'],
      [
        [
          'server CPU per `GET /admin/v1/stats` vs `GET /healthz`',
          `${statsMs.toFixed(3)} ms (${Math.min(...perRequest.stats).toFixed(3)}–${Math.max(...perRequest.stats).toFixed(3)})`,
          `${healthzMs.toFixed(3)} ms (${Math.min(...perRequest.healthz).toFixed(3)}–${Math.max(...perRequest.healthz).toFixed(3)})`,
          `${ratio.toFixed(2)}×`,
          '≤ 2×, ≤ 1 ms',
          ratio <= 2 && statsMs <= 1 ? 'met' : '**not met**',
        ],
        ['`llmsvc top` CPU at 1 Hz, 60 s', `${topCpuPercent!.toFixed(2)}% of one core`, '—', '—', '≤ 3%', topCpuPercent! <= 3 ? 'met' : '**not met**'],
      ],
    ),
    '',
  ].join('\n');
  writeResultsSection('Admin API stats and llmsvc top (issue 14)', section);
  process.stdout.write(`${section}\n`);
});
