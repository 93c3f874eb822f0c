import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LlamaCompletion, TokenBias, type LlamaContextSequence, type Token } from 'node-llama-cpp';
import { capSampledTokens, endOfGenerationToken } from '../core/providers/llama/sampledTokenCap.js';
import { useTinyModel } from './support/tinyModel.js';

// LlamaCompletion holds back a token that ends inside a multi-byte character and skips its
// max_tokens check for it (core/providers/llama/sampledTokenCap.ts). These count the tokens the
// sequence really generated, with and without the cap, on the tiny tiny.model.

const tiny = useTinyModel();

/** Counts the tokens `sequence`'s evaluate() hands out (the tokens generated). */
function countGenerated(sequence: LlamaContextSequence): { readonly count: number } {
  const evaluate = sequence.evaluate.bind(sequence);
  const counter = { count: 0 };
  sequence.evaluate = ((...args: Parameters<typeof evaluate>) => {
    const inner = evaluate(...args);
    return (async function* () {
      try {
        let replacement: Token | undefined;
        while (true) {
          const step = await inner.next(replacement);
          if (step.done) return step.value;
          counter.count++;
          replacement = yield step.value;
        }
      } finally {
        await inner.return(undefined);
      }
    })();
  }) as typeof sequence.evaluate;
  return counter;
}

/** Generates with every token forced to an emoji's first byte (no token ever completes a character). */
async function generateBytes(maxTokens: number, capped: boolean) {
  const context = await tiny.model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
  try {
    const sequence = context.getSequence();
    const generated = countGenerated(sequence);
    const [firstByte] = tiny.model.tokenize('\u{1F600}', false, 'trimLeadingSpace');
    const cap = capped ? capSampledTokens(sequence, maxTokens, endOfGenerationToken(tiny.model)) : undefined;
    const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
    let released = 0;
    try {
      const result = await completion.generateCompletionWithMeta('abc', {
        maxTokens,
        seed: 1,
        tokenBias: new TokenBias(tiny.model.tokenizer).set(firstByte!, { logit: 100 }),
        onToken: (tokens) => (released += tokens.length),
      });
      return { generated: generated.count, released, stopReason: result.metadata.stopReason, capReached: cap?.reached };
    } finally {
      cap?.release();
      completion.dispose({ disposeSequence: false });
    }
  } finally {
    await context.dispose();
  }
}

test('without the cap, LlamaCompletion generates max_tokens + 1 when the last token ends mid-character (if this fails, node-llama-cpp fixed it and the cap can go)', async () => {
  const uncapped = await generateBytes(1, false);
  assert.equal(uncapped.generated, 2);
  assert.equal(uncapped.stopReason, 'maxTokens');
});

test('with the cap, a completion generates exactly max_tokens and ends on the cap', async () => {
  for (const maxTokens of [1, 2, 3, 5]) {
    const capped = await generateBytes(maxTokens, true);
    assert.equal(capped.generated, maxTokens, `max_tokens ${maxTokens}`);
    assert.ok(capped.released <= maxTokens);
  }
  assert.equal((await generateBytes(1, true)).capReached, true);
});

test('the cap changes nothing for a completion that ends before it, and release() gives the sequence its evaluate() back', async () => {
  const context = await tiny.model.createContext({ contextSize: 256, sequences: 1, threads: 1 });
  try {
    const sequence = context.getSequence();
    const own = sequence.evaluate;
    const plain = await new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false }).generateCompletionWithMeta('once upon a time', { maxTokens: 6, temperature: 0 });
    const cap = capSampledTokens(sequence, 6, endOfGenerationToken(tiny.model));
    const completion = new LlamaCompletion({ contextSequence: sequence, autoDisposeSequence: false });
    const withCap = await completion.generateCompletionWithMeta('once upon a time', { maxTokens: 6, temperature: 0 });
    cap.release();
    completion.dispose({ disposeSequence: false });
    assert.equal(withCap.response, plain.response);
    assert.equal(withCap.metadata.stopReason, plain.metadata.stopReason);
    assert.equal(cap.reached, false);
    assert.equal(sequence.evaluate, own);
    assert.ok(!Object.hasOwn(sequence, 'evaluate'));
  } finally {
    await context.dispose();
  }
});
