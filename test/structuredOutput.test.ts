import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ajv } from 'ajv';
import { createOpenAI } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { generateObject } from 'ai';
import OpenAI from 'openai';
import { z } from 'zod';
import { enumerateIntegerRanges, maxEnumeratedRange } from '../core/providers/llama/integerRanges.js';
import { startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// Issue 12, item 3: the grammar for "integer" and "number" allowed exponents and 16-digit
// mantissas, so a strict schema could yield `"age": -6.04e541424` (±Infinity in JavaScript) or a
// fraction for an integer, and clients' own validators refused the answer. The tiny model has
// random weights: whatever it picks, the grammar alone must keep every answer valid.

let server: TestServer;
let client: OpenAI;

before(async () => {
  server = await startTestServer({ context_size: 1024 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
});
after(() => server.stop());

const person = {
  type: 'object',
  properties: {
    age: { type: 'integer' },
    level: { type: 'integer', minimum: 1, maximum: 5 },
    score: { type: 'number' },
    name: { type: 'string', maxLength: 8 },
    tags: { type: 'array', items: { type: 'string', maxLength: 4 }, maxItems: 2 },
  },
  required: ['age', 'level', 'score', 'name', 'tags'],
  additionalProperties: false,
} as const;

const ajv = new Ajv({ strict: true });
const validPerson = ajv.compile(person);

/** Valid by the schema, and by what JavaScript makes of it: integers safe, numbers finite. */
function assertValidPerson(text: string, context: string): void {
  const value = JSON.parse(text) as { age: number; score: number };
  assert.ok(validPerson(value), `${context}: ${text} does not validate: ${ajv.errorsText(validPerson.errors)}`);
  assert.ok(Number.isSafeInteger(value.age), `${context}: age ${value.age} is not a safe integer`);
  assert.ok(Number.isFinite(value.score), `${context}: score ${value.score} is not finite`);
}

/** For tool calls. node-llama-cpp checks a call's arguments against the schema itself: a string
 *  past its maxLength (an invalid UTF-8 byte decoded as several U+FFFD) used to fail the request. */
const reading = {
  type: 'object',
  properties: {
    count: { type: 'integer' },
    priority: { type: 'integer', exclusiveMinimum: 0, maximum: 3 },
    ratio: { type: 'number' },
    label: { type: 'string', maxLength: 6 },
    samples: { type: 'array', items: { type: 'integer' }, maxItems: 3 },
  },
  required: ['count', 'priority', 'ratio', 'label', 'samples'],
  additionalProperties: false,
} as const;
const validReading = ajv.compile(reading);

const seeds = Array.from({ length: 30 }, (_, index) => index + 1);

test('json_schema output parses and validates on every seed: integers are safe integers, numbers finite, lengths bounded', async () => {
  let complete = 0;
  for (const seed of seeds) {
    const completion = await client.chat.completions.create({
      model: tinyModelId,
      messages: [{ role: 'user', content: 'Describe a person.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema: person, strict: true } },
      max_tokens: 200,
      seed,
    });
    const choice = completion.choices[0]!;
    if (choice.finish_reason === 'length') continue; // cut short by max_tokens: not a whole answer
    complete++;
    assertValidPerson(choice.message.content!, `seed ${seed}`);
  }
  assert.ok(complete >= seeds.length / 2, `only ${complete} of ${seeds.length} answers completed within max_tokens`);
});

test('tool-call arguments validate against the tool parameters on every seed', async () => {
  let calls = 0;
  for (const seed of seeds.slice(0, 15)) {
    const completion = await client.chat.completions.create({
      model: tinyModelId,
      messages: [{ role: 'user', content: 'Record a reading.' }],
      tools: [{ type: 'function', function: { name: 'record_reading', description: 'Records a reading', parameters: reading } }],
      tool_choice: 'required',
      max_tokens: 200,
      seed,
    });
    const choice = completion.choices[0]!;
    if (choice.finish_reason === 'length') continue;
    const call = choice.message.tool_calls?.[0];
    assert.ok(call && call.type === 'function', `seed ${seed}: a tool call`);
    calls++;
    const args = JSON.parse(call.function.arguments) as { count: number; ratio: number; samples: number[] };
    assert.ok(validReading(args), `seed ${seed}: ${call.function.arguments} does not validate: ${ajv.errorsText(validReading.errors)}`);
    for (const integer of [args.count, ...args.samples]) assert.ok(Number.isSafeInteger(integer), `seed ${seed}: ${integer} is not a safe integer`);
    assert.ok(Number.isFinite(args.ratio), `seed ${seed}: ratio ${args.ratio} is not finite`);
  }
  assert.ok(calls >= 5, `only ${calls} of 15 calls completed within max_tokens`);
});

// What users run: the clients' own validation (zod) over llmsvc's answers. Before the fix a
// grammar-valid -4.4e213 for an int, or a nickname of 8 characters that decoded to 11, failed it.
const clientSchema = z.object({ age: z.number().int(), stars: z.number().int().min(1).max(5), score: z.number(), nickname: z.string().max(8) });

test("LangChain's ChatOpenAI(...).withStructuredOutput(zod) succeeds on every seed", async () => {
  for (const seed of seeds.slice(0, 5)) {
    const model = new ChatOpenAI({ model: tinyModelId, apiKey: testAdminKey, configuration: { baseURL: `${server.url}/v1` }, maxTokens: 200, maxRetries: 0, modelKwargs: { seed } });
    const answer = await model.withStructuredOutput(clientSchema, { name: 'person', method: 'jsonSchema' }).invoke('Describe a person.');
    assert.ok(Number.isSafeInteger(answer.age) && Number.isFinite(answer.score), `seed ${seed}: ${JSON.stringify(answer)}`);
  }
});

test("the AI SDK's generateObject with openai.chat(model) succeeds on every seed", async () => {
  const openai = createOpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey });
  for (const seed of seeds.slice(0, 5)) {
    const { object } = await generateObject({ model: openai.chat(tinyModelId), schema: clientSchema, prompt: 'Describe a person.', maxOutputTokens: 200, seed, maxRetries: 0 });
    assert.ok(Number.isSafeInteger(object.age) && Number.isFinite(object.score), `seed ${seed}: ${JSON.stringify(object)}`);
  }
});

test('small bounded integer ranges become the list of their values; wider ones and property names stay as they are', () => {
  const schema = {
    type: 'object',
    properties: {
      stars: { type: 'integer', minimum: 1, maximum: 5, description: 'rating' },
      odd: { type: 'integer', exclusiveMinimum: 0.5, exclusiveMaximum: 3 },
      wide: { type: 'integer', minimum: 0, maximum: maxEnumeratedRange },
      ratio: { type: 'number', minimum: 0, maximum: 1 },
      minimum: { type: 'array', items: { type: 'integer', minimum: -1, maximum: 1 } },
    },
  };
  assert.deepEqual(enumerateIntegerRanges(schema), {
    type: 'object',
    properties: {
      stars: { description: 'rating', enum: [1, 2, 3, 4, 5] },
      odd: { enum: [1, 2] },
      wide: { type: 'integer', minimum: 0, maximum: maxEnumeratedRange },
      ratio: { type: 'number', minimum: 0, maximum: 1 },
      minimum: { type: 'array', items: { enum: [-1, 0, 1] } },
    },
  });
});
