import { Box, Text } from 'ink';
import type { KeyInfo } from '../adminClient.js';
import { ago, compact, fit } from '../format.js';
import { bar } from '../sparkline.js';
import { useTheme } from '../theme.js';

export interface KeysProps {
  keys: KeyInfo[] | undefined;
  /** Today's tokens per key id. */
  todayTokens: ReadonlyMap<string, number>;
  selected: number;
  width: number;
}

/** 2 Keys: name, prefix, scope, rpm/tpm, today's tokens against the daily quota, last used. */
export function Keys({ keys, todayTokens, selected, width }: KeysProps) {
  const theme = useTheme();
  if (!keys) return <Text color={theme.dim}>Loading keys…</Text>;
  const nameWidth = Math.max(10, Math.min(24, width - 66));
  return (
    <Box flexDirection="column">
      <Text bold>
        {fit('NAME', nameWidth)} {fit('PREFIX', 14)} {fit('SCOPE', 5)} {fit('RPM/TPM', 11)} {fit('TODAY / DAILY QUOTA', 20)} {fit('LAST USED', 9)}
      </Text>
      {keys.length === 0 && <Text color={theme.dim}>No keys. Press n to create one.</Text>}
      {keys.map((key, index) => {
        const used = todayTokens.get(key.id) ?? 0;
        const quota = key.daily_tokens;
        const state = key.revoked ? ' revoked' : key.disabled ? ' disabled' : '';
        return (
          <Text key={key.id} inverse={index === selected} color={key.revoked || key.disabled ? theme.dim : undefined}>
            {fit(key.name + state, nameWidth)} {fit(key.prefix, 14)} {fit(key.scope, 5)} {fit(`${compact(key.rpm)}/${compact(key.tpm)}`, 11)}{' '}
            {quota ? `${bar(used / quota, 8)} ${fit(`${compact(used)}/${compact(quota)}`, 11)}` : fit(`${compact(used)} (no quota)`, 20)} {fit(ago(key.last_used_at), 9)}
          </Text>
        );
      })}
    </Box>
  );
}
