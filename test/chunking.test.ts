// OpenAI's static chunking strategy over any tokenizer: validation, defaults and the windows.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkText, resolveChunkingStrategy, validateStaticChunking, type ChunkTokenizer } from '../core/rag/chunking.js';
import { isApiError } from '../core/errors/index.js';

/** One token per word: encode maps words to ids, decode joins them with spaces. */
function wordTokenizer(): ChunkTokenizer {
  const ids = new Map<string, number>();
  const words: string[] = [];
  return {
    encode: (text) =>
      text.split(/\s+/).filter(Boolean).map((word) => {
        if (!ids.has(word)) ids.set(word, words.push(word) - 1);
        return ids.get(word)!;
      }),
    decode: (tokens) => tokens.map((id) => words[id]).join(' '),
  };
}

const words = (count: number) => Array.from({ length: count }, (_, i) => `w${i}`).join(' ');

function assertInvalid(fn: () => unknown, param: string, pattern: RegExp): void {
  assert.throws(fn, (error) => isApiError(error) && error.status === 400 && error.param === param && pattern.test(error.message));
}

describe('chunking strategy', () => {
  test('auto and absent mean 800 tokens with 400 of overlap', () => {
    assert.deepEqual(resolveChunkingStrategy(undefined), { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 });
    assert.deepEqual(resolveChunkingStrategy({ type: 'auto' }), { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 });
  });

  test('static fills in what is missing; a small max gets half of it as overlap', () => {
    assert.deepEqual(resolveChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 200 } }), { max_chunk_size_tokens: 200, chunk_overlap_tokens: 100 });
    assert.deepEqual(resolveChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 4096 } }), { max_chunk_size_tokens: 4096, chunk_overlap_tokens: 400 });
    assert.deepEqual(resolveChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 300, chunk_overlap_tokens: 0 } }), { max_chunk_size_tokens: 300, chunk_overlap_tokens: 0 });
  });

  test('max_chunk_size_tokens must be an integer in 100–4096', () => {
    const param = 'chunking_strategy.static.max_chunk_size_tokens';
    for (const max of [99, 4097, 150.5, Number.NaN]) {
      assertInvalid(() => validateStaticChunking({ max_chunk_size_tokens: max, chunk_overlap_tokens: 0 }), param, /from 100 to 4096/);
    }
    assert.doesNotThrow(() => validateStaticChunking({ max_chunk_size_tokens: 100, chunk_overlap_tokens: 50 }));
    assert.doesNotThrow(() => validateStaticChunking({ max_chunk_size_tokens: 4096, chunk_overlap_tokens: 2048 }));
  });

  test('chunk_overlap_tokens must be at most half of the max, and not negative', () => {
    const param = 'chunking_strategy.static.chunk_overlap_tokens';
    assertInvalid(() => validateStaticChunking({ max_chunk_size_tokens: 800, chunk_overlap_tokens: 401 }), param, /half of max_chunk_size_tokens \(400\)/);
    assertInvalid(() => resolveChunkingStrategy({ type: 'static', static: { max_chunk_size_tokens: 100, chunk_overlap_tokens: 400 } }), param, /half/);
    assertInvalid(() => validateStaticChunking({ max_chunk_size_tokens: 800, chunk_overlap_tokens: -1 }), param, /non-negative/);
  });

  test('an unknown strategy type is a 400', () => {
    assertInvalid(() => resolveChunkingStrategy({ type: 'semantic' } as never), 'chunking_strategy.type', /auto or static/);
  });
});

describe('chunkText', () => {
  test('windows of max tokens, each starting max − overlap after the last, covering the text', () => {
    const tokenizer = wordTokenizer();
    const chunks = chunkText(words(1000), { max_chunk_size_tokens: 100, chunk_overlap_tokens: 30 }, tokenizer);
    // Starts 0, 70, …, 910: the window at 910 reaches the end.
    assert.equal(chunks.length, 14);
    chunks.forEach((chunk, i) => {
      assert.equal(chunk.index, i);
      const first = i * 70;
      const last = Math.min(first + 100, 1000) - 1;
      assert.equal(chunk.tokenCount, last - first + 1);
      assert.ok(chunk.text.startsWith(`w${first} `) && chunk.text.endsWith(` w${last}`), chunk.text.slice(0, 20));
    });
    assert.ok(chunks.at(-1)!.text.endsWith(' w999'));
  });

  test('no overlap partitions the text exactly', () => {
    const chunks = chunkText(words(250), { max_chunk_size_tokens: 100, chunk_overlap_tokens: 0 }, wordTokenizer());
    assert.deepEqual(chunks.map((chunk) => chunk.tokenCount), [100, 100, 50]);
    assert.equal(chunks.map((chunk) => chunk.text).join(' '), words(250));
  });

  test('a text shorter than one chunk is one chunk; an empty text is none', () => {
    assert.deepEqual(chunkText('just a few words', { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 }, wordTokenizer()), [
      { index: 0, text: 'just a few words', tokenCount: 4 },
    ]);
    assert.deepEqual(chunkText(words(800), { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 }, wordTokenizer()).length, 1);
    assert.deepEqual(chunkText('  \n ', { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 }, wordTokenizer()), []);
  });

  test('an invalid strategy is refused before tokenizing', () => {
    const tokenizer: ChunkTokenizer = { encode: () => assert.fail('tokenized'), decode: () => '' };
    assert.throws(() => chunkText('x', { max_chunk_size_tokens: 50, chunk_overlap_tokens: 0 }, tokenizer), /from 100 to 4096/);
  });
});
