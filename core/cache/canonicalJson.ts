/** JSON with object keys sorted at every depth and undefined members left out, so that two
 *  requests that differ only in key order serialise the same. Hand-written: it is one replacer
 *  over JSON.stringify, and the packages that do it (safe-stable-stringify, fast-json-stable-
 *  stringify) are only transitive dependencies here. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
