/** The known names closest to a misspelt one, for "did you mean …" (`modelz_dir` → `models_dir`).
 *  Hand-written, a few lines: commander suggests flags this way but does not export its helper,
 *  and a fuzzy-matching library would be a dependency for one message. */
export function closestNames(given: string, known: readonly string[]): string[] {
  const target = given.toLowerCase().replaceAll('-', '_');
  const scored = known.map((name) => ({ name, distance: editDistance(target, name.toLowerCase()) }));
  // Up to a third of the name may differ (at least one edit), as commander allows for flags.
  const limit = Math.max(1, Math.floor(target.length / 3));
  const best = Math.min(...scored.map((entry) => entry.distance));
  return best <= limit ? scored.filter((entry) => entry.distance === best).map((entry) => entry.name) : [];
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of two
 *  neighbouring characters each cost 1. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = distance;
    }
  }
  return rows[a.length]![b.length]!;
}
