import { Box, Text } from 'ink';

export const helpRows: [string, string][] = [
  ['1 2 3 4 5', 'Overview, Keys, Models, Jobs, Requests'],
  ['↑ ↓  j k', 'move the selection'],
  ['?', 'this help (any key closes it)'],
  ['q  Ctrl+C', 'quit'],
  ['Keys: n', 'new key (a form; the secret is shown once)'],
  ['Keys: e', 'edit the selected key’s limits and quotas'],
  ['Keys: r', 'revoke the selected key (asks first)'],
  ['Keys: R', 'rotate the selected key’s secret (asks first)'],
  ['Models: l / u', 'load / unload the selected model'],
  ['Jobs: c', 'cancel the selected job (asks first)'],
  ['Requests: s', 'cycle the status filter: all, 2xx, 4xx, 5xx'],
  ['Requests: f', 'filter by key id (empty: all keys)'],
  ['Forms', 'Tab/↑↓ move, type to edit, Enter saves, Esc cancels'],
];

export function Help() {
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>llmsvc top — keys</Text>
      {helpRows.map(([keys, what]) => (
        <Text key={keys}>
          {keys.padEnd(15)} {what}
        </Text>
      ))}
    </Box>
  );
}
