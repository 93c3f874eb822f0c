import { Box, Text } from 'ink';
import type { StatsSnapshot } from '../adminClient.js';
import { bytes, compact, fit } from '../format.js';
import type { History } from '../history.js';
import { bar, sparkline } from '../sparkline.js';
import { useTheme } from '../theme.js';

export interface OverviewProps {
  snapshot: StatsSnapshot | undefined;
  history: History;
  width: number;
  selected: number;
}

/** 1 Overview: per model (state, active/queued bar, tok/s sparkline, TTFT), totals with
 *  sparklines, upstream circuits. */
export function Overview({ snapshot, history, width, selected }: OverviewProps) {
  const theme = useTheme();
  if (!snapshot) return <Text color={theme.dim}>Waiting for the first snapshot…</Text>;
  const sparkWidth = Math.max(6, Math.min(40, width - 73));
  const { totals } = snapshot;
  const stateColour = (state: string) => (state === 'loaded' ? theme.good : state === 'loading' ? theme.warn : theme.dim);
  return (
    <Box flexDirection="column">
      <Text bold>{fit('MODEL', 22)} {fit('STATE', 8)} {fit('ACTIVE/QUEUED', 14)} {fit('TOK/S', 7, 'right')} {fit('TTFT p50/p95', 14)} {fit('TOK/S 2MIN', sparkWidth)}</Text>
      {snapshot.models.length === 0 && <Text color={theme.dim}>No local models in the models dir.</Text>}
      {snapshot.models.map((model, index) => {
        const parallel = model.parallel ?? 0;
        const queued = model.queued.interactive + model.queued.background;
        const load = parallel > 0 ? (model.active + queued) / parallel : 0;
        const ttft = model.ttft_ms ? `${compact(model.ttft_ms.p50)}/${compact(model.ttft_ms.p95)}ms` : '–';
        return (
          <Text key={model.id} inverse={index === selected}>
            {fit(model.id, 22)} <Text color={stateColour(model.state)}>{fit(model.state, 8)}</Text> {bar(load, 6)}{' '}
            {fit(`${model.active}/${queued}`, 7)} {fit(compact(model.decode_tps), 7, 'right')} {fit(ttft, 14)}{' '}
            <Text color={theme.accent}>{sparkline(history.get(`model:${model.id}`), sparkWidth)}</Text>
          </Text>
        );
      })}
      <Box marginTop={1} flexDirection="column">
        <Text bold>TOTALS (last minute)</Text>
        <Text>
          {fit(`requests/s ${compact(totals.requests_per_s)}`, 22)} <Text color={theme.accent}>{sparkline(history.get('requests'), sparkWidth)}</Text>
        </Text>
        <Text>
          {fit(`tokens/s ${compact(totals.prompt_tokens_per_s)} in ${compact(totals.completion_tokens_per_s)} out`, 34)}{' '}
          <Text color={theme.accent}>{sparkline(history.get('completion_tokens'), Math.max(10, sparkWidth - 12))}</Text>
        </Text>
        <Text>
          {fit(`errors/s 4xx ${compact(totals.errors_per_s['4xx'])} 5xx ${compact(totals.errors_per_s['5xx'])}`, 34)}{' '}
          <Text color={totals.errors_per_s['5xx'] > 0 ? theme.bad : theme.warn}>{sparkline(history.get('errors'), Math.max(10, sparkWidth - 12))}</Text>
        </Text>
        <Text>
          active {totals.active_requests} · cache hit rate {totals.cache_hit_rate === null ? '–' : `${Math.round(totals.cache_hit_rate * 100)}%`} · memory{' '}
          {bytes(snapshot.models.reduce((sum, model) => sum + (model.memory_bytes ?? 0), 0))} · jobs {snapshot.jobs.length}
        </Text>
      </Box>
      <Box marginTop={1} flexDirection="column">
        <Text bold>UPSTREAMS</Text>
        {snapshot.upstreams.length === 0 ? (
          <Text color={theme.dim}>none configured</Text>
        ) : (
          snapshot.upstreams.map((upstream) => (
            <Text key={upstream.provider}>
              {fit(upstream.provider, 22)}{' '}
              <Text color={upstream.state === 'closed' ? theme.good : upstream.state === 'open' ? theme.bad : theme.warn}>{fit(upstream.state, 10)}</Text> failures{' '}
              {upstream.failures}
            </Text>
          ))
        )}
      </Box>
    </Box>
  );
}
