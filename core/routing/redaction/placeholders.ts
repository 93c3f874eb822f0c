import type { RedactionKind } from '../../config/index.js';
import { findPersonalData } from './detectors.js';

const labels: Record<RedactionKind, string> = { email: 'EMAIL', phone: 'PHONE', card: 'CARD', iban: 'IBAN', ip: 'IP' };

/** Any placeholder this module can produce, e.g. [EMAIL_1]. */
export const placeholderPattern = /\[(?:EMAIL|PHONE|CARD|IBAN|IP)_\d+\]/g;

/** The placeholders of one request, both ways: the same value always gets the same placeholder,
 *  and a placeholder already written by the user (a literal "[EMAIL_1]") is never handed out,
 *  so restoring cannot turn the user's own text into someone's address. */
export class PlaceholderTable {
  readonly #byValue = new Map<string, string>();
  readonly #byPlaceholder = new Map<string, string>();
  readonly #counts = new Map<RedactionKind, number>();

  constructor(
    private readonly kinds: ReadonlySet<RedactionKind>,
    private readonly reserved: (placeholder: string) => boolean,
  ) {}

  get size(): number {
    return this.#byPlaceholder.size;
  }

  /** The placeholders handed out, for the stream restorer's look-ahead. */
  placeholders(): IterableIterator<string> {
    return this.#byPlaceholder.keys();
  }

  /** `text` with every value of the table's kinds replaced by its placeholder. */
  redact(text: string): string {
    const findings = findPersonalData(text, this.kinds);
    if (findings.length === 0) return text;
    let out = '';
    let position = 0;
    for (const finding of findings) {
      out += text.slice(position, finding.start) + this.#placeholderFor(finding.kind, finding.value);
      position = finding.end;
    }
    return out + text.slice(position);
  }

  /** `text` with every placeholder of this table put back; `escape` encodes the value for the
   *  surrounding syntax (e.g. inside a JSON string). Unknown placeholders stay as they are. */
  restore(text: string, escape: (value: string) => string = (value) => value): string {
    if (this.size === 0) return text;
    return text.replace(placeholderPattern, (placeholder) => {
      const value = this.#byPlaceholder.get(placeholder);
      return value === undefined ? placeholder : escape(value);
    });
  }

  #placeholderFor(kind: RedactionKind, value: string): string {
    const known = this.#byValue.get(value);
    if (known) return known;
    let count = this.#counts.get(kind) ?? 0;
    let placeholder: string;
    do placeholder = `[${labels[kind]}_${++count}]`;
    while (this.reserved(placeholder));
    this.#counts.set(kind, count);
    this.#byValue.set(value, placeholder);
    this.#byPlaceholder.set(placeholder, value);
    return placeholder;
  }
}
