import { inspect } from 'node:util';

/** A provider's API key: readable only through `reveal()`. Logging, JSON and string conversion
 *  all print "[redacted]", so a config object can be logged or returned without leaking it. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return '[redacted]';
  }

  toString(): string {
    return '[redacted]';
  }

  [inspect.custom](): string {
    return 'Secret([redacted])';
  }
}
