import { isIPv4, isIPv6 } from 'node:net';
import type { RedactionKind } from '../../config/index.js';
import { passesIbanCheck, passesLuhn } from './checksums.js';

/** A piece of personal data found in a text: [start, end) and the text itself. */
export interface Finding {
  kind: RedactionKind;
  start: number;
  end: number;
  value: string;
}

/** A pattern finds candidates; `accept` checks one (checksum, address syntax, plausibility) and
 *  may shorten it (an IBAN followed by an upper-case word), returning the length to keep. */
interface Detector {
  kind: RedactionKind;
  patterns: RegExp[];
  accept(candidate: string): number | undefined;
}

const whole = (ok: boolean, candidate: string) => (ok ? candidate.length : undefined);
const digitCount = (text: string) => text.replace(/\D/g, '').length;

const email: Detector = {
  kind: 'email',
  patterns: [/(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}(?![\p{L}\p{N}-])/gu],
  accept: (candidate) => candidate.length,
};

const card: Detector = {
  kind: 'card',
  patterns: [
    // 13–19 digits in groups of four (Visa, Mastercard, Discover, …), one separator style throughout.
    /(?<!\d)\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?(?!\d)/g,
    // American Express 4-6-5 and Diners 4-6-4.
    /(?<!\d)\d{4}([ -]?)\d{6}\1\d{4,5}(?!\d)/g,
  ],
  accept: (candidate) => whole(passesLuhn(candidate.replace(/[ -]/g, '')), candidate),
};

const iban: Detector = {
  kind: 'iban',
  // Upper case only, as IBANs are printed: a case-blind pattern would put ordinary words
  // through the checksum, and 1 in 97 of them would pass.
  patterns: [/(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])/g],
  accept(candidate) {
    // The pattern may have taken a following upper-case word or number group: drop trailing
    // groups until the checksum passes.
    for (let kept = candidate; kept.length >= 15; kept = kept.slice(0, Math.max(kept.lastIndexOf(' '), 0))) {
      if (passesIbanCheck(kept)) return kept.length;
      if (!kept.includes(' ')) break;
    }
    return undefined;
  },
};

const ipv4: Detector = {
  kind: 'ip',
  patterns: [/(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)/g],
  accept: (candidate) => whole(isIPv4(candidate), candidate),
};

const ipv6: Detector = {
  kind: 'ip',
  patterns: [/(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:]|\.\d)/g],
  // At least two groups and a digit: keeps "::", "::1"-style fragments and C++'s "Ab::Cd" out.
  accept: (candidate) =>
    whole(isIPv6(candidate) && /\d/.test(candidate) && candidate.split(':').filter(Boolean).length >= 2, candidate),
};

const phoneStart = String.raw`(?<![\w+.\-/])`;
const phoneEnd = String.raw`(?![\w]|[.\-/]\d)`;
// Groups after the first need a separator: optional separators between digit groups would let
// the engine try every way of splitting a long run of digits (slow on "+1" and 40 digits).
const internationalPhone = new RegExp(
  String.raw`${phoneStart}(?:\+|00)[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?[ .-]?\d{1,14}(?:[ .-]\d{1,14}){0,5}${phoneEnd}`,
  'g',
);
/** North American: (555) 123-4567, 555-123-4567, 555.123.4567, 1 555 123 4567 — separators required. */
const northAmericanPhone = new RegExp(String.raw`${phoneStart}(?:1[ .-])?(?:\([2-9]\d{2}\)[ .-]?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}${phoneEnd}`, 'g');
/** Trunk-prefix national numbers (most of Europe): 030 12345678, 06 12 34 56 78, (030) 1234567, 0171/1234567. */
const trunkPhone = new RegExp(String.raw`${phoneStart}(?:\(0\d{1,4}\)|0\d{1,4})[ ./-]?\d{2,8}(?:[ ./-]\d{2,8}){0,3}${phoneEnd}`, 'g');
const looksLikeDate = /^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}/;

const phone: Detector = {
  kind: 'phone',
  patterns: [internationalPhone, northAmericanPhone, trunkPhone],
  accept(candidate) {
    const digits = digitCount(candidate);
    if (candidate.startsWith('+')) return whole(digits >= 8 && digits <= 15, candidate);
    if (candidate.startsWith('00')) return whole(digits - 2 >= 8 && digits - 2 <= 15, candidate);
    if (/^(?:1[ .-])?\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]\d{4}$/.test(candidate)) return candidate.length;
    // A trunk-prefix number uses one kind of separator; "01.02.2024 10" is a date and a time.
    const separators = new Set(candidate.replace(/\([^)]*\)/, '').replace(/\d/g, ''));
    return whole(digits >= 9 && digits <= 12 && separators.size <= 1 && !looksLikeDate.test(candidate), candidate);
  },
};

/** Most specific first: on equal length the earlier detector wins. */
const detectors: readonly Detector[] = [email, iban, card, ipv6, ipv4, phone];

/** Every piece of personal data of the given kinds in `text`, without overlaps, in text order.
 *  Where candidates overlap, the longest wins (an IPv4-mapped IPv6 address over its IPv4 tail). */
export function findPersonalData(text: string, kinds: ReadonlySet<RedactionKind>): Finding[] {
  const candidates: (Finding & { rank: number })[] = [];
  detectors.forEach((detector, rank) => {
    if (!kinds.has(detector.kind)) return;
    for (const pattern of detector.patterns) {
      for (const match of text.matchAll(pattern)) {
        const length = detector.accept(match[0]);
        if (length === undefined) continue;
        const start = match.index;
        candidates.push({ kind: detector.kind, start, end: start + length, value: text.slice(start, start + length), rank });
      }
    }
  });
  candidates.sort((a, b) => b.end - b.start - (a.end - a.start) || a.rank - b.rank || a.start - b.start);
  const chosen: Finding[] = [];
  for (const { rank: _rank, ...candidate } of candidates) {
    if (chosen.every((other) => candidate.end <= other.start || candidate.start >= other.end)) chosen.push(candidate);
  }
  return chosen.sort((a, b) => a.start - b.start);
}
