import { Box, Text } from 'ink';
import type { FormState } from '../form.js';
import { useTheme } from '../theme.js';

export function FormDialog({ form }: { form: FormState }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>{form.title}</Text>
      {form.fields.map((field, index) => (
        <Text key={field.name} inverse={index === form.focus}>
          {field.label.padEnd(22)} {field.kind === 'choice' ? `‹ ${field.value} ›` : field.value || (field.kind === 'number' ? '(none)' : '')}
          {index === form.focus && field.kind !== 'choice' ? '▏' : ''}
        </Text>
      ))}
      {form.error && <Text color={theme.bad}>{form.error}</Text>}
      <Text color={theme.dim}>Tab/↑↓ move · Enter save · Esc cancel</Text>
    </Box>
  );
}

export function ConfirmDialog({ question }: { question: string }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold color={theme.warn}>
        {question}
      </Text>
      <Text>y yes · n / Esc no</Text>
    </Box>
  );
}

export function SecretDialog({ title, secret }: { title: string; secret: string }) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <Text bold>{title}</Text>
      <Text>{secret}</Text>
      <Text color={theme.warn}>Copy it now: it is shown this once and never stored. Press Enter to close.</Text>
    </Box>
  );
}
