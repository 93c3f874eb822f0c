/** Header bags as they arrive: fetch's Headers (the SDKs' errors), node's IncomingHttpHeaders, or
 *  a plain record (ApiError.headers). */
export type HeaderBag = Headers | Record<string, string | string[] | number | undefined>;

export function headerValue(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== lower || value === undefined) continue;
    return Array.isArray(value) ? value[0] : String(value);
  }
  return undefined;
}

/** How long the upstream asked us to wait, in ms: OpenAI's `retry-after-ms` first (finer), then
 *  the standard `Retry-After` as seconds or as an HTTP date. Undefined when absent or unreadable. */
export function parseRetryAfter(headers: HeaderBag | undefined, now: number): number | undefined {
  const ms = headerValue(headers, 'retry-after-ms');
  if (ms !== undefined && ms.trim() !== '') {
    const value = Number(ms);
    if (Number.isFinite(value) && value >= 0) return value;
  }
  const retryAfter = headerValue(headers, 'retry-after')?.trim();
  if (!retryAfter) return undefined;
  if (/^\d+(\.\d+)?$/.test(retryAfter)) return Number(retryAfter) * 1000;
  const date = Date.parse(retryAfter);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
