/** Prints rows as an aligned text table for people (scripts use --json). Hand-written: a few
 *  lines, and the table libraries bring borders and colours nobody asked for. */
export function formatTable(rows: Record<string, unknown>[], columns: string[]): string {
  const cell = (value: unknown) => (value === null || value === undefined || value === '' ? '-' : Array.isArray(value) ? value.join(',') : String(value));
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => cell(row[column]).length)));
  const line = (values: string[]) => values.map((value, i) => value.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...rows.map((row) => line(columns.map((column) => cell(row[column]))))].join('\n') + '\n';
}
