import { Box, Text } from 'ink';
import type { RequestRow } from '../adminClient.js';
import { clock, compact, fit } from '../format.js';
import { useTheme } from '../theme.js';

export interface RequestsProps {
  rows: RequestRow[] | undefined;
  filters: { key_id?: string; status?: string };
  selected: number;
  width: number;
}

/** 5 Requests: the live tail of the request log, newest first. */
export function Requests({ rows, filters, selected, width }: RequestsProps) {
  const theme = useTheme();
  const routeWidth = Math.max(12, Math.min(28, width - 64));
  const filterText = [filters.status ? `status ${filters.status}` : 'all statuses', filters.key_id ? `key ${filters.key_id}` : 'all keys'].join(' · ');
  return (
    <Box flexDirection="column">
      <Text color={theme.dim}>filter: {filterText} (s status, f key)</Text>
      <Text bold>
        {fit('TIME', 8)} {fit('STATUS', 6)} {fit('ROUTE', routeWidth)} {fit('MODEL', 18)} {fit('TOKENS', 9)} {fit('LATENCY', 8, 'right')} {fit('KEY', 8)}
      </Text>
      {!rows && <Text color={theme.dim}>Loading the request log…</Text>}
      {rows?.length === 0 && <Text color={theme.dim}>No requests match.</Text>}
      {rows?.map((row, index) => (
        <Text key={`${row.id}-${index}`} inverse={index === selected}>
          {fit(clock(row.created_at), 8)} <Text color={row.status >= 500 ? theme.bad : row.status >= 400 ? theme.warn : theme.good}>{fit(String(row.status), 6)}</Text>{' '}
          {fit(row.route, routeWidth)} {fit(row.model ?? '–', 18)} {fit(`${compact(row.prompt_tokens)}+${compact(row.completion_tokens)}`, 9)}{' '}
          {fit(`${compact(Math.round(row.latency_ms))}ms`, 8, 'right')} {fit(row.key_id ?? '–', 8)}
        </Text>
      ))}
    </Box>
  );
}
