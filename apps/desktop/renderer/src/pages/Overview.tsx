import { useEffect, useMemo, useState } from 'preact/hooks';
import { Chart } from '../Chart';
import type { List } from '../api';
import { daysAgo, formatBytes, formatNumber, utcDay } from '../format';
import { ErrorNote, useApi, type PageProps } from '../hooks';
import { StatsHistory, type StatsSnapshot } from '../stats';

interface UsageRow {
  key_id: string;
  day: string;
  requests: number;
  total_tokens: number;
  errors: number;
}

interface KeyRow {
  id: string;
  name: string;
}

function css(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function Overview(_props: PageProps) {
  const history = useMemo(() => new StatsHistory(), []);
  const [latest, setLatest] = useState<StatsSnapshot | null>(null);
  const [streamError, setStreamError] = useState<string | null>(null);

  useEffect(() => {
    const source = new EventSource('/admin/v1/stats/stream');
    source.addEventListener('stats', (event) => {
      const snapshot = JSON.parse((event as MessageEvent<string>).data) as StatsSnapshot;
      history.push(snapshot);
      setLatest(snapshot);
      setStreamError(null);
    });
    source.onerror = () => setStreamError('The live stats stream is not connected; retrying…');
    return () => source.close();
  }, []);

  // uPlot takes colours, not CSS variables: read the theme's values once per render.
  const palette = { a: css('--series-a') || '#2563eb', b: css('--series-b') || '#d97706', c: css('--series-c') || '#dc2626' };
  const t = history.time;
  // Two lines per model that has been loaded: active (solid colour) and queued (the next colour).
  const cycle = [palette.a, palette.b, palette.c, css('--series-d') || '#059669', css('--series-e') || '#7c3aed'];
  const modelSeries = [...history.perModel].flatMap(([id, series], index) => [
    { spec: { label: `${id} active`, color: cycle[(2 * index) % cycle.length]! }, values: series.active },
    { spec: { label: `${id} queued`, color: cycle[(2 * index + 1) % cycle.length]! }, values: series.queued },
  ]);
  return (
    <div class="overview">
      <ErrorNote error={streamError} />
      <section class="tiles" aria-label="Now">
        <Tile label="Requests/s" value={formatNumber(latest?.totals.requests_per_s, 2)} />
        <Tile label="Tokens/s (completion)" value={formatNumber(latest?.totals.completion_tokens_per_s)} />
        <Tile label="Active requests" value={formatNumber(latest?.totals.active_requests)} />
        <Tile label="Cache hit rate" value={latest?.totals.cache_hit_rate == null ? '—' : `${Math.round(latest.totals.cache_hit_rate * 100)}%`} />
        <Tile label="Uptime" value={latest ? formatUptime(latest.uptime_s) : '—'} />
      </section>
      <div class="charts">
        <Chart minSpanS={60} title="Requests per second" series={[{ label: 'requests/s', color: palette.a }, { label: 'errors/s', color: palette.c }]} data={[t, history.requests, history.errors]} />
        <Chart minSpanS={60} title="Tokens per second" series={[{ label: 'completion', color: palette.a }, { label: 'prompt', color: palette.b }]} data={[t, history.completionTps, history.promptTps]} />
        <Chart minSpanS={60} title="Time to first token (ms, slowest model)" series={[{ label: 'p50', color: palette.a }, { label: 'p95', color: palette.b }]} data={[t, history.ttftP50, history.ttftP95]} />
        <Chart minSpanS={60} title="Sequences per model (active, queued)" series={modelSeries.map((entry) => entry.spec)} data={[t, ...modelSeries.map((entry) => entry.values)]} />
      </div>
      <h2>Models</h2>
      <table>
        <thead>
          <tr><th scope="col">Model</th><th scope="col">State</th><th scope="col">Backend</th><th scope="col">Active</th><th scope="col">Queued</th><th scope="col">Decode tok/s</th><th scope="col">TTFT p50 / p95</th><th scope="col">Memory</th></tr>
        </thead>
        <tbody>
          {(latest?.models ?? []).map((model) => (
            <tr key={model.id}>
              <td>{model.id}</td>
              <td><span class={`badge ${model.state}`}>{model.state}</span></td>
              <td>{model.backend ?? '—'}</td>
              <td>{model.active}{model.parallel ? ` / ${model.parallel}` : ''}</td>
              <td>{model.queued.interactive} + {model.queued.background} bg</td>
              <td>{formatNumber(model.decode_tps)}</td>
              <td>{model.ttft_ms ? `${formatNumber(model.ttft_ms.p50)} / ${formatNumber(model.ttft_ms.p95)} ms` : '—'}</td>
              <td>{formatBytes(model.memory_bytes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Upstreams</h2>
      {latest && latest.upstreams.length === 0 ? (
        <p class="hint">No upstream providers are configured; every model is local.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Provider</th><th scope="col">Circuit</th><th scope="col">Recent failures</th></tr></thead>
          <tbody>
            {(latest?.upstreams ?? []).map((upstream) => (
              <tr key={upstream.provider}><td>{upstream.provider}</td><td><span class={`badge ${upstream.state}`}>{upstream.state.replace('_', '-')}</span></td><td>{upstream.failures}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      <UsagePerKey />
    </div>
  );
}

function formatUptime(seconds: number): string {
  if (seconds < 60) return `${Math.floor(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

function Tile(props: { label: string; value: string }) {
  return (
    <div class="tile">
      <div class="tile-value">{props.value}</div>
      <div class="tile-label">{props.label}</div>
    </div>
  );
}

/** Tokens and requests per key for today, the last 7 and the last 30 days (UTC days). */
function UsagePerKey() {
  const usage = useApi<List<UsageRow>>(`/admin/v1/usage?from=${daysAgo(29)}`, 30_000);
  const keys = useApi<List<KeyRow>>('/admin/v1/keys');
  const names = new Map((keys.data?.data ?? []).map((key) => [key.id, key.name]));
  const today = utcDay(Date.now());
  const week = daysAgo(6);
  const totals = new Map<string, { today: number; week: number; month: number; requests: number }>();
  for (const row of usage.data?.data ?? []) {
    const entry = totals.get(row.key_id) ?? { today: 0, week: 0, month: 0, requests: 0 };
    entry.month += row.total_tokens;
    entry.requests += row.requests;
    if (row.day >= week) entry.week += row.total_tokens;
    if (row.day === today) entry.today += row.total_tokens;
    totals.set(row.key_id, entry);
  }
  const rows = [...totals].sort((a, b) => b[1].month - a[1].month);
  return (
    <section aria-labelledby="usage-title">
      <h2 id="usage-title">Usage per key (tokens)</h2>
      <ErrorNote error={usage.error} />
      {rows.length === 0 ? (
        <p class="hint">No usage in the last 30 days.</p>
      ) : (
        <table>
          <thead><tr><th scope="col">Key</th><th scope="col">Today</th><th scope="col">7 days</th><th scope="col">30 days</th><th scope="col">Requests (30 days)</th></tr></thead>
          <tbody>
            {rows.map(([keyId, entry]) => (
              <tr key={keyId}><td>{names.get(keyId) ?? keyId} <span class="muted">{keyId}</span></td><td>{formatNumber(entry.today)}</td><td>{formatNumber(entry.week)}</td><td>{formatNumber(entry.month)}</td><td>{formatNumber(entry.requests)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
