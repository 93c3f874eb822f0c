/** Turns free text into an FTS5 MATCH expression: every word (letters and digits) becomes a quoted
 *  term and the terms are OR-ed, so BM25 ranks chunks by how many rare query words they hold.
 *  Quoting makes FTS5 operators in the user's text (AND, NEAR, *, :, ") plain words. Returns
 *  undefined when the text has no word at all. */
export function ftsMatchExpression(text: string): string | undefined {
  const words = text.match(/[\p{L}\p{N}]+/gu);
  if (!words) return undefined;
  const unique = [...new Set(words.map((word) => word.toLowerCase()))];
  return unique.map((word) => `"${word}"`).join(' OR ');
}
