import { Box, Text } from 'ink';
import type { StatsSnapshot } from '../adminClient.js';
import { bytes, fit } from '../format.js';
import { useTheme } from '../theme.js';

export interface ModelsProps {
  models: StatsSnapshot['models'] | undefined;
  selected: number;
  /** Model ids with a load or unload in flight. */
  busy: ReadonlySet<string>;
}

/** 3 Models: every local model, its state, backend, parallel sequences, memory and size. */
export function Models({ models, selected, busy }: ModelsProps) {
  const theme = useTheme();
  if (!models) return <Text color={theme.dim}>Waiting for the first snapshot…</Text>;
  return (
    <Box flexDirection="column">
      <Text bold>
        {fit('MODEL', 26)} {fit('KIND', 4)} {fit('STATE', 10)} {fit('BACKEND', 7)} {fit('PAR', 3, 'right')} {fit('MEMORY', 10, 'right')} {fit('FILE SIZE', 10, 'right')}
      </Text>
      {models.length === 0 && <Text color={theme.dim}>No local models in the models dir.</Text>}
      {models.map((model, index) => {
        const state = busy.has(model.id) ? `${model.state}…` : model.state;
        return (
          <Text key={model.id} inverse={index === selected}>
            {fit(model.id, 26)} {fit(model.kind, 4)}{' '}
            <Text color={model.state === 'loaded' ? theme.good : model.state === 'loading' ? theme.warn : theme.dim}>{fit(state, 10)}</Text> {fit(model.backend ?? '–', 7)}{' '}
            {fit(model.parallel === null ? '–' : String(model.parallel), 3, 'right')} {fit(bytes(model.memory_bytes), 10, 'right')} {fit(bytes(model.size_bytes), 10, 'right')}
          </Text>
        );
      })}
    </Box>
  );
}
