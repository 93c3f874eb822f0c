// `node --import tsx bench/console.ts`: the admin console's first load on loopback, in headless
// chromium (Debian's, as the tests use): bytes transferred for JS and CSS (the server sends the
// build's precompressed gzip files), and the time from navigation to the first drawn overview
// chart point, with a fresh browser context (cold cache) each run. No peer runs here: LiteLLM's
// admin UI needs Python and Postgres, and no published figure for its bundle size was found, so
// the figures stand alone against the issue's target (≤ 250 KB gzip JS+CSS).
import { chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath, ensureConsoleBuilt } from '../test/support/browser.js';
import { assertBuilt, assertTinyModel, benchLogger, machineInfo, markdownTable, median, runBenchmark, startServe, summarize, testModelsDir, textTable, writeResultsSection } from './support.js';

const log = benchLogger('console');
const runs = process.argv.includes('--quick') ? 3 : 7;

interface Load {
  jsCssBytes: number;
  jsCssDecodedBytes: number;
  allBytes: number;
  requests: number;
  domContentLoadedMs: number;
  chartMs: number | null;
}

async function main(): Promise<void> {
  assertBuilt();
  assertTinyModel();
  ensureConsoleBuilt();
  const started = performance.now();
  const server = await startServe({ modelsDir: testModelsDir });
  const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
  const loads: Load[] = [];
  try {
    // A session cookie, as the sign-in form would get it.
    const signIn = await fetch(`${server.url}/admin/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: server.apiKey }) });
    const cookieValue = /llmsvc_session=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1];
    if (!cookieValue) throw new Error(`sign-in failed: HTTP ${signIn.status}`);
    for (let run = 0; run < runs; run++) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addCookies([{ name: 'llmsvc_session', value: cookieValue, url: server.url, httpOnly: true, sameSite: 'Strict' }]);
      const page = await context.newPage();
      await page.goto(`${server.url}/admin/#/overview`);
      const chartMs = await page
        .waitForFunction(() => {
          const figure = document.querySelector('figure.chart');
          return figure && Number(figure.getAttribute('data-points')) > 0 ? performance.now() : false;
        }, undefined, { timeout: 15_000 })
        .then((handle) => handle.jsonValue() as Promise<number>)
        .catch(() => null);
      const figures = await page.evaluate(() => {
        const navigation = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
        const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
        const assets = resources.filter((entry) => /\.(js|css)(\?|$)/.test(entry.name));
        return {
          jsCssBytes: assets.reduce((sum, entry) => sum + entry.encodedBodySize, 0),
          jsCssDecodedBytes: assets.reduce((sum, entry) => sum + entry.decodedBodySize, 0),
          allBytes: navigation.encodedBodySize + resources.reduce((sum, entry) => sum + entry.encodedBodySize, 0),
          requests: 1 + resources.length,
          domContentLoadedMs: navigation.domContentLoadedEventEnd,
        };
      });
      loads.push({ ...figures, chartMs });
      log(`run ${run + 1}: ${figures.jsCssBytes} B JS+CSS, chart at ${chartMs === null ? 'n/a' : `${chartMs.toFixed(0)} ms`}`);
      await context.close();
    }
  } finally {
    await browser.close();
    await server.stop();
  }

  const charts = loads.map((load) => load.chartMs).filter((value): value is number => value !== null);
  const jsCss = median(loads.map((load) => load.jsCssBytes));
  const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} KB`;
  const cell = (values: number[], unit: string) => {
    if (values.length === 0) return 'n/a';
    const s = summarize(values);
    return `${s.median.toFixed(0)} ${unit} (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;
  };
  const rows = [
    ['JS + CSS transferred (gzip), first load', kb(jsCss), '≤ 250 KB', jsCss <= 250_000 ? 'met' : '**not met**'],
    ['JS + CSS uncompressed', kb(median(loads.map((load) => load.jsCssDecodedBytes))), '—', 'info'],
    ['everything transferred (page, JS, CSS, first API answers)', kb(median(loads.map((load) => load.allBytes))), '—', 'info'],
    ['requests until the chart is drawn', String(median(loads.map((load) => load.requests))), '—', 'info'],
    ['navigation → DOMContentLoaded', cell(loads.map((load) => load.domContentLoadedMs), 'ms'), '—', 'info'],
    ['navigation → first overview chart point drawn', charts.length ? cell(charts, 'ms') : 'n/a (no /admin/v1/stats/stream on this server)', '—', 'info'],
  ];
  const header = ['figure', 'llmsvc console', 'target', 'verdict'];
  process.stdout.write(`${textTable(header, rows)}\n`);
  const machine = machineInfo();
  const section = [
    `## Admin console first load (issue 15) — ${new Date().toISOString()}`,
    '',
    `- Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB.toFixed(1)} GiB RAM, ${machine.os}`,
    `- Node ${machine.node}; Debian chromium, headless, 1280×800, a fresh context (cold cache) per run, ${runs} runs; the run took ${((performance.now() - started) / 1000).toFixed(0)} s`,
    '- Command: `node --import tsx bench/console.ts`',
    '',
    markdownTable(header, rows),
    '',
    'Cells are median (min–max). Bytes are the encoded body sizes chromium reports (Resource Timing) for the',
    "page's JS and CSS: the server sends the build's precompressed .gz files (chromium asks for gzip over plain",
    'http). The chart time is from navigation start to the first snapshot of /admin/v1/stats/stream drawn by',
    'uPlot, signed in by cookie. No peer: LiteLLM\'s admin UI (Next.js) needs Python and Postgres to run, and no',
    'published figure for its bundle size was found, so the figures stand alone against the target.',
  ].join('\n');
  writeResultsSection('Admin console first load', section);
}

await runBenchmark('console', main);
