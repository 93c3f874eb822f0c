/** Sparklines and bars drawn with Unicode block characters. By hand: the Ink chart packages on
 *  npm are not installed here (and none is needed for eight glyphs); this is a few lines. */
const levels = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** The last `width` values as a sparkline, scaled to their own maximum (all zero: a flat line). */
export function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  const line = shown.map((value) => (max === 0 ? ' ' : levels[Math.min(levels.length - 1, Math.round((value / max) * (levels.length - 1)))]!)).join('');
  return line.padStart(width, ' ');
}

/** A bar `width` cells wide filled to `fraction` (0..1), in eighths of a cell. */
export function bar(fraction: number, width: number): string {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(clamped * width * 8);
  const full = Math.floor(eighths / 8);
  const partial = eighths % 8;
  const partials = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  return ('█'.repeat(full) + partials[partial]).padEnd(width, '·').slice(0, width);
}
