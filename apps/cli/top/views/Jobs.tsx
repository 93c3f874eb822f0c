import { Box, Text } from 'ink';
import type { JobInfo } from '../adminClient.js';
import { clock, fit } from '../format.js';
import { bar } from '../sparkline.js';
import { useTheme } from '../theme.js';

export interface JobsProps {
  jobs: JobInfo[] | undefined;
  selected: number;
  width: number;
}

/** Batches say which API they came through: "batch·openai", "batch·anthropic". */
function kindLabel(job: JobInfo): string {
  return job.kind === 'batch' && job.api ? `batch·${job.api}` : job.kind;
}

/** Ingestion states (queued/running/done/failed) and batch states (validating/in_progress/
 *  finalizing/cancelling/completed/cancelled/expired/failed). */
function stateColour(state: string, theme: ReturnType<typeof useTheme>): string | undefined {
  if (state === 'failed' || state === 'expired') return theme.bad;
  if (state === 'done' || state === 'completed') return theme.good;
  if (state === 'running' || state === 'in_progress' || state === 'validating' || state === 'finalizing' || state === 'cancelling') return theme.accent;
  return undefined;
}

/** 4 Jobs: batches and ingestions, newest first, with progress bars. */
export function Jobs({ jobs, selected, width }: JobsProps) {
  const theme = useTheme();
  if (!jobs) return <Text color={theme.dim}>Loading jobs…</Text>;
  const kindWidth = Math.max(10, Math.min(26, width - 64));
  return (
    <Box flexDirection="column">
      <Text bold>
        {fit('JOB', 22)} {fit('KIND', kindWidth)} {fit('STATE', 11)} {fit('PROGRESS', 18)} {fit('CREATED', 8)}
      </Text>
      {jobs.length === 0 && <Text color={theme.dim}>No jobs yet (vector store ingestions and batches show here).</Text>}
      {jobs.map((job, index) => {
        const total = job.progress_total ?? 0;
        const fraction = job.state === 'done' || job.state === 'completed' ? 1 : total > 0 ? job.progress_done / total : 0;
        const colour = stateColour(job.state, theme);
        return (
          <Text key={job.id} inverse={index === selected}>
            {fit(job.id, 22)} {fit(kindLabel(job), kindWidth)} <Text color={colour}>{fit(job.state, 11)}</Text> {bar(fraction, 10)} {fit(`${job.progress_done}/${job.progress_total ?? '?'}`, 7)}{' '}
            {fit(clock(job.created_at), 8)}
          </Text>
        );
      })}
    </Box>
  );
}
