import { fileURLToPath, pathToFileURL } from 'node:url';

// node-llama-cpp's JSON-schema grammars (response_format json_schema, and the grammar LlamaChat
// puts on a tool call's arguments) write every `number` and `integer` with its GbnfNumber
// terminal, which allows a 16-digit mantissa and a 16-digit exponent: a strict `{"type":
// "integer"}` could yield `-6.04e541424` (±Infinity in JavaScript) or 1e5, which clients'
// validators (zod in LangChain's withStructuredOutput, the AI SDK's generateObject) reject. Its
// schema type has no minimum/maximum to pass a bound through, and LlamaChat builds the tool-call
// grammar itself, so the terminal is patched in place (as yieldingBatchDispatch does for batch
// dispatch): one change that covers both paths.

/** At most 15 digits: every such integer is a safe integer (below 2^53 ≈ 9.007e15). */
export const integerGbnf = '"-"? ("0" | [1-9] [0-9]{0,14})';
/** A safe integer part and at most 6 fraction digits, no exponent: always finite, and exact
 *  enough for what a schema's "number" holds in practice. */
export const numberGbnf = `${integerGbnf} ("." [0-9]{1,6})?`;

interface GbnfNumberPrototype {
  allowFractional: boolean;
  getGrammar(this: GbnfNumberPrototype): string;
}

let installing: Promise<{ applied: true } | { applied: false; reason: string }> | undefined;

/** Makes every JSON grammar node-llama-cpp builds from now on write bounded numbers. */
export function installBoundedJsonNumbers(): Promise<{ applied: true } | { applied: false; reason: string }> {
  installing ??= (async () => {
    const indexPath = fileURLToPath(import.meta.resolve('node-llama-cpp'));
    const module = (await import(new URL('./utils/gbnfJson/terminals/GbnfNumber.js', pathToFileURL(indexPath)).href)) as { GbnfNumber?: { prototype: GbnfNumberPrototype } };
    const prototype = module.GbnfNumber?.prototype;
    if (!prototype || typeof prototype.getGrammar !== 'function') return { applied: false as const, reason: 'GbnfNumber.getGrammar is missing' };
    prototype.getGrammar = function (this: GbnfNumberPrototype) {
      return this.allowFractional ? numberGbnf : integerGbnf;
    };
    return { applied: true as const };
  })().catch((error: unknown) => ({ applied: false as const, reason: (error as Error).message }));
  return installing;
}
