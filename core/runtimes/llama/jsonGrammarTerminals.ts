import { importNodeLlamaCppInternal, type NodeLlamaCppInternal } from './nodeLlamaCppInternals.js';

// node-llama-cpp's JSON-schema grammars (response_format json_schema, and the grammar LlamaChat
// puts on a tool call's arguments) write every `number` and `integer` with its GbnfNumber
// terminal, which allows a 16-digit mantissa and a 16-digit exponent: a strict `{"type":
// "integer"}` could yield `-6.04e541424` (±Infinity in JavaScript) or 1e5, which clients'
// validators (zod in LangChain's withStructuredOutput, the AI SDK's generateObject) reject. Its
// schema type has no minimum/maximum to pass a bound through, and LlamaChat builds the tool-call
// grammar itself, so the terminal is patched in place (as yieldingBatchDispatch does for batch
// dispatch): one change that covers both paths. Strings likewise: see stringCharGbnf.

/** At most 15 digits: every such integer is a safe integer (below 2^53 ≈ 9.007e15). */
export const integerGbnf = '"-"? ("0" | [1-9] [0-9]{0,14})';
/** A safe integer part and at most 6 fraction digits, no exponent: always finite, and exact
 *  enough for what a schema's "number" holds in practice. */
export const numberGbnf = `${integerGbnf} ("." [0-9]{1,6})?`;

/** A JSON string character that is a Unicode scalar value (no surrogate, nothing above U+10FFFF:
 *  llama.cpp's grammar decodes any lead byte F0-FF with three more bytes, up to U+3FFFFF, which
 *  the text decoder turns into four U+FFFD, so "at most 8 characters" came out as 11), or an
 *  escape of one (no surrogate half). */
const nonSurrogateEscape = '"\\\\u" ([0-9a-cA-Ce-fE-F] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2})';
export const stringCharGbnf = `[^"\\\\\\x7F\\x00-\\x1F\\uD800-\\uDFFF\\U00110000-\\UFFFFFFFF] | "\\\\" ["\\\\/bfnrt] | ${nonSurrogateEscape}`;
/** The same within a string whose length the schema bounds: Basic Multilingual Plane only, so that
 *  each character is one code point (JSON Schema's count, ajv's) and one UTF-16 unit (JavaScript's
 *  length, zod's): the bound holds whichever way a client counts. */
export const boundedStringCharGbnf = `[^"\\\\\\x7F\\x00-\\x1F\\uD800-\\uDFFF\\U00010000-\\UFFFFFFFF] | "\\\\" ["\\\\/bfnrt] | ${nonSurrogateEscape}`;

interface GbnfGenerator {
  readonly rules: Map<string, string>;
}
interface Terminal {
  resolve(generator: GbnfGenerator): string;
}
type TerminalClass = { prototype: { getGrammar(this: unknown, generator?: GbnfGenerator): string; getRuleName(this: unknown, generator?: GbnfGenerator): string } } & (new (...args: never[]) => Terminal);

interface GbnfNumberPrototype {
  allowFractional: boolean;
  getGrammar(this: GbnfNumberPrototype): string;
}

interface GbnfStringInstance {
  minLength: number;
  maxLength?: number | null;
}

async function internal<T>(specifier: NodeLlamaCppInternal, name: string): Promise<T> {
  const member = (await importNodeLlamaCppInternal(specifier))[name];
  if (typeof member !== 'function') throw new Error(`${name} is missing from node-llama-cpp`);
  return member as T;
}

let installing: Promise<{ applied: true } | { applied: false; reason: string }> | undefined;

/** Makes every JSON grammar node-llama-cpp builds from now on write bounded numbers and strings
 *  of valid characters whose length bounds hold. */
export function installBoundedJsonTerminals(): Promise<{ applied: true } | { applied: false; reason: string }> {
  installing ??= (async () => {
    const GbnfNumber = await internal<{ prototype: GbnfNumberPrototype }>('./utils/gbnfJson/terminals/GbnfNumber.js', 'GbnfNumber');
    const GbnfString = await internal<TerminalClass>('./utils/gbnfJson/terminals/GbnfString.js', 'GbnfString');
    const GbnfInsideStringChar = await internal<TerminalClass>('./utils/gbnfJson/terminals/GbnfInsideStringChar.js', 'GbnfInsideStringChar');
    const GbnfRepetition = await internal<new (options: { value: Terminal; minRepetitions: number; maxRepetitions?: number | null }) => { getGrammar(generator: GbnfGenerator): string }>(
      './utils/gbnfJson/terminals/GbnfRepetition.js',
      'GbnfRepetition',
    );

    GbnfNumber.prototype.getGrammar = function (this: GbnfNumberPrototype) {
      return this.allowFractional ? numberGbnf : integerGbnf;
    };
    GbnfInsideStringChar.prototype.getGrammar = () => stringCharGbnf;
    class BoundedStringChar extends (GbnfInsideStringChar as unknown as new () => Terminal) {
      getGrammar(): string {
        return boundedStringCharGbnf;
      }
      getRuleName(): string {
        return 'string-bounded-char-rule';
      }
    }
    const unboundedString = GbnfString.prototype.getGrammar;
    GbnfString.prototype.getGrammar = function (this: GbnfStringInstance, generator?: GbnfGenerator) {
      if (this.maxLength == null && this.minLength === 0) return unboundedString.call(this, generator);
      if (this.maxLength === 0) return '"\\"\\""';
      const characters = new GbnfRepetition({ value: new BoundedStringChar(), minRepetitions: this.minLength, maxRepetitions: this.maxLength }).getGrammar(generator!);
      return ['"\\""', characters, '"\\""'].join(' ');
    };
    return { applied: true as const };
  })().catch((error: unknown) => ({ applied: false as const, reason: (error as Error).message }));
  return installing;
}
