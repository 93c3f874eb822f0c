/** Milliseconds since the epoch. Injected so tests can cross a day boundary. */
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

const msPerDay = 86_400_000;
/** The last day formatted: every request asks for its day, and it changes once a day. */
let lastDay = { number: Number.NaN, text: '' };

/** The UTC day of a time, `YYYY-MM-DD`: quotas and usage roll over at midnight UTC. */
export function utcDay(ms: number): string {
  const number = Math.floor(ms / msPerDay);
  if (number !== lastDay.number) lastDay = { number, text: new Date(ms).toISOString().slice(0, 10) };
  return lastDay.text;
}

export function utcMonthStartDay(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 7)}-01`;
}

/** Milliseconds from `ms` to the first moment of the next UTC month. */
export function msUntilNextUtcMonth(ms: number): number {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) - ms;
}

/** Milliseconds from `ms` to the next UTC midnight. */
export function msUntilNextUtcDay(ms: number): number {
  const date = new Date(ms);
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1) - ms;
}
