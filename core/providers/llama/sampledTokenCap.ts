// Holds LlamaCompletion to max_tokens.
//
// Why: LlamaCompletion (node-llama-cpp 3.21.1, and 3.22.1 still) compares its token count with
// maxTokens only after a token's text is complete. A token that ends inside a multi-byte character
// is held back with `continue`, which skips that comparison, and the loop asks for one more token.
// So when the max_tokens-th token is such a byte token, a completion generates (and bills)
// max_tokens + 1 tokens; the tiny test model's byte tokens made this show up now and then as 7
// completion tokens for three requests with max_tokens 2. LlamaChat checks after holding, so only
// completions need this.
//
// How: for the duration of one generation, the sequence's evaluate() is wrapped so that it hands
// out at most maxTokens sampled tokens; asked for another, it hands out the end-of-generation token
// instead, without evaluating it, and the completion ends there. The held bytes of the unfinished
// character are dropped from the text, as the caller asked for no more tokens than that.
import type { LlamaContextSequence, LlamaModel, Token } from 'node-llama-cpp';

export interface SampledTokenCap {
  /** Whether the completion asked for a token beyond the cap (and so ended on it). */
  readonly reached: boolean;
  /** Puts the sequence's own evaluate() back. */
  release(): void;
}

type Evaluate = LlamaContextSequence['evaluate'];

/** The token that ends a generation for this model, or undefined when it names none. */
export function endOfGenerationToken(model: LlamaModel): Token | undefined {
  return model.tokens.eos ?? model.tokens.eot ?? undefined;
}

/** Caps the tokens `sequence` samples, until release(). Without an end token to hand out, nothing
 *  is capped: ending the iterator instead would make LlamaCompletion fail the request. */
export function capSampledTokens(sequence: LlamaContextSequence, maxTokens: number, endToken: Token | undefined): SampledTokenCap {
  let sampled = 0;
  let reached = false;
  const hadOwnEvaluate = Object.hasOwn(sequence, 'evaluate');
  const evaluate = sequence.evaluate;
  if (endToken !== undefined) {
    const capped = function (this: LlamaContextSequence, ...args: Parameters<Evaluate>) {
      const inner = evaluate.apply(sequence, args);
      return (async function* () {
        try {
          let replacement: Token | undefined;
          while (true) {
            if (sampled >= maxTokens) {
              reached = true;
              yield endToken;
              return;
            }
            const step = await inner.next(replacement);
            if (step.done) return step.value;
            sampled++;
            replacement = yield step.value;
          }
        } finally {
          await inner.return(undefined);
        }
      })();
    };
    sequence.evaluate = capped as unknown as Evaluate;
  }
  return {
    get reached() {
      return reached;
    },
    release() {
      if (hadOwnEvaluate) sequence.evaluate = evaluate;
      else delete (sequence as { evaluate?: Evaluate }).evaluate;
    },
  };
}
