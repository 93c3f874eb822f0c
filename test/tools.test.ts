import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { toChatHistory } from '../core/providers/llama/chatHistory.js';
import { schemaErrors } from './support/openapi.js';
import { startTestServer, testAdminKey, tinyModelId, type TestServer } from './support/server.js';

// Tool calling against the tiny test model. Its weights are random and it has no chat template
// (node-llama-cpp's General wrapper), so it practically never calls a tool of its own accord:
// these tests force calls (tool_choice required or a named tool), which guarantees one whose
// arguments the grammar keeps to the schema. The schemas use enums and booleans only, so that
// a random model finishes its arguments within a few tokens.

let server: TestServer;
let openai: OpenAI;
let anthropic: Anthropic;

before(async () => {
  server = await startTestServer({ context_size: 1024 });
  openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: testAdminKey, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: server.url, apiKey: testAdminKey, maxRetries: 0 });
});
after(() => server.stop());

const weatherParameters = {
  type: 'object',
  properties: {
    city: { type: 'string', enum: ['Paris', 'Oslo', 'Lima'], description: 'The city' },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
  },
  required: ['city', 'unit'],
  additionalProperties: false,
};
const alarmParameters = { type: 'object', properties: { on: { type: 'boolean' } }, required: ['on'] };

const ajv = new Ajv2020({ strict: false });
function assertArguments(schema: object, args: unknown) {
  const validate = ajv.compile(schema);
  assert.ok(validate(args), `arguments ${JSON.stringify(args)} must satisfy the schema: ${ajv.errorsText(validate.errors)}`);
}

function assertSchema(name: string, data: unknown) {
  assert.deepEqual(schemaErrors(name, data), [], `${name} must validate against OpenAI's schema`);
}

describe('tool calls in node-llama-cpp chat history', () => {
  const call = (id: string) => ({ id, name: 'get_weather', arguments: '{"city":"Paris"}' });

  test("an assistant's calls and their results are one model turn, which the text after them continues", () => {
    const history = toChatHistory([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: 'Checking.', toolCalls: [call('call_a'), call('call_b')] },
      { role: 'tool', toolCallId: 'call_b', content: '{"sky":"clear"}' },
      { role: 'tool', toolCallId: 'call_a', content: 'rain' },
      { role: 'assistant', content: 'Mixed.' },
      { role: 'user', content: 'Thanks' },
    ]);
    assert.deepEqual(history, [
      { type: 'user', text: 'Weather?' },
      {
        type: 'model',
        response: [
          'Checking.',
          { type: 'functionCall', name: 'get_weather', params: { city: 'Paris' }, result: 'rain' },
          { type: 'functionCall', name: 'get_weather', params: { city: 'Paris' }, result: { sky: 'clear' } },
          'Mixed.',
        ],
      },
      { type: 'user', text: 'Thanks' },
      { type: 'model', response: [] },
    ]);
  });

  test('a conversation that ends with tool results ends with the model turn that made the calls, to be continued', () => {
    const history = toChatHistory([{ role: 'user', content: 'Weather?' }, { role: 'assistant', content: '', toolCalls: [call('call_a')] }, { role: 'tool', toolCallId: 'call_a', content: 'rain' }]);
    assert.equal(history.length, 2);
    assert.deepEqual(history[1], { type: 'model', response: [{ type: 'functionCall', name: 'get_weather', params: { city: 'Paris' }, result: 'rain' }] });
  });

  test('a result without its call, and a call without its result, are refused', () => {
    assert.throws(() => toChatHistory([{ role: 'user', content: 'x' }, { role: 'tool', toolCallId: 'call_z', content: 'y' }]), /call_z.*answers no tool call/);
    assert.throws(() => toChatHistory([{ role: 'user', content: 'x' }, { role: 'assistant', content: '', toolCalls: [call('call_a')] }]), /call_a.*has no tool result/);
  });
});

describe('OpenAI chat completions with tools', () => {
  const tools: OpenAI.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: weatherParameters, strict: true } },
    { type: 'function', function: { name: 'set_alarm', description: 'Turn the alarm on or off', parameters: alarmParameters } },
  ];
  const base = { model: tinyModelId, max_tokens: 60, tools, messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }] };

  test('a named tool_choice returns that call: well-formed, schema-valid, arguments satisfy the parameters', async () => {
    const completion = await openai.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    assertSchema('CreateChatCompletionResponse', completion);
    const [choice] = completion.choices;
    assert.equal(choice!.finish_reason, 'tool_calls');
    assert.equal(choice!.message.content, null, 'no text: content is null');
    const calls = choice!.message.tool_calls!;
    assert.equal(calls.length, 1);
    const call = calls[0]!;
    assert.ok(call.type === 'function');
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(call.function.name, 'get_weather');
    assertArguments(weatherParameters, JSON.parse(call.function.arguments));
    assert.ok(completion.usage!.completion_tokens > 0, 'the call counts as completion tokens');
  });

  test('tool_choice required calls one of the tools', async () => {
    const completion = await openai.chat.completions.create({ ...base, tool_choice: 'required' });
    assertSchema('CreateChatCompletionResponse', completion);
    const call = completion.choices[0]!.message.tool_calls![0]!;
    assert.ok(call.type === 'function');
    const tool = tools.find((t) => t.type === 'function' && t.function.name === call.function.name);
    assert.ok(tool && tool.type === 'function', `called a tool that was given: ${call.function.name}`);
    assertArguments(tool.function.parameters!, JSON.parse(call.function.arguments));
  });

  test('streamed: the SDK stream helper accumulates the call; every chunk is schema-valid', async () => {
    const stream = openai.chat.completions.stream({ ...base, tool_choice: { type: 'function', function: { name: 'set_alarm' } }, stream_options: { include_usage: true } });
    const chunks: unknown[] = [];
    stream.on('chunk', (chunk) => chunks.push(chunk));
    const completion = await stream.finalChatCompletion();
    for (const chunk of chunks) assertSchema('CreateChatCompletionStreamResponse', chunk);
    const [choice] = completion.choices;
    assert.equal(choice!.finish_reason, 'tool_calls');
    const call = choice!.message.tool_calls![0]!;
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'set_alarm');
    assertArguments(alarmParameters, JSON.parse(call.function.arguments));
    assert.ok(completion.usage!.completion_tokens > 0);
  });

  test('a follow-up turn with the tool result is accepted and answered', async () => {
    const first = await openai.chat.completions.create({ ...base, tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const assistant = first.choices[0]!.message;
    const call = assistant.tool_calls![0]!;
    const followUp = await openai.chat.completions.create({
      ...base,
      max_tokens: 5,
      messages: [
        ...base.messages,
        { role: 'assistant', content: null, tool_calls: assistant.tool_calls },
        { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21, sky: 'clear' }) },
      ],
    });
    assertSchema('CreateChatCompletionResponse', followUp);
    const [choice] = followUp.choices;
    // tool_choice auto: a random model answers in text (a call of its own would need it to write the call syntax).
    assert.ok(['stop', 'length'].includes(choice!.finish_reason), choice!.finish_reason);
    assert.equal(typeof choice!.message.content, 'string');
    assert.equal(choice!.message.tool_calls, undefined);
    assert.ok(followUp.usage!.prompt_tokens > first.usage!.prompt_tokens, 'the call and its result are part of the prompt');
  });

  test('tool_choice auto answers with text or a call, well-formed either way', async () => {
    const completion = await openai.chat.completions.create({ ...base, max_tokens: 5, tool_choice: 'auto' });
    assertSchema('CreateChatCompletionResponse', completion);
    const [choice] = completion.choices;
    if (choice!.finish_reason === 'tool_calls') assert.ok(choice!.message.tool_calls!.length > 0);
    else assert.equal(typeof choice!.message.content, 'string');
  });

  test('tool_choice none offers no tools: plain text, and parallel_tool_calls is accepted', async () => {
    const completion = await openai.chat.completions.create({ ...base, max_tokens: 5, seed: 5, tool_choice: 'none', parallel_tool_calls: false });
    assertSchema('CreateChatCompletionResponse', completion);
    assert.equal(completion.choices[0]!.finish_reason, 'length');
    assert.equal(completion.choices[0]!.message.tool_calls, undefined);
  });

  test('bad tools and tool choices are 400s that name the parameter', async () => {
    const refused = async (body: object, param: string, message: RegExp) => {
      await assert.rejects(openai.chat.completions.create(body as any), (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError, String(error));
        assert.equal(error.type, 'invalid_request_error');
        assert.equal(error.param, param);
        assert.match(error.message, message);
        return true;
      });
    };
    await refused({ ...base, tool_choice: { type: 'function', function: { name: 'get_time' } } }, 'tool_choice', /get_time/);
    await refused({ ...base, tools: undefined, tool_choice: 'required' }, 'tool_choice', /needs tools/);
    await refused({ ...base, tool_choice: 'sometimes' }, 'tool_choice', /'none', 'auto', 'required'/);
    await refused({ ...base, tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools[0].function.name', /function name/);
    await refused({ ...base, tools: [tools[0], tools[0]] }, 'tools[1].function.name', /given twice/);
    await refused({ ...base, tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'string' } } }] }, 'tools[0].function.parameters', /type 'object'/);
    await refused({ ...base, tools: [{ type: 'custom', custom: { name: 'f' } }] }, 'tools[0].type', /function/);
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city": ' } };
    await refused({ ...base, messages: [...base.messages, { role: 'assistant', content: null, tool_calls: [call] }] }, 'messages[1].tool_calls[0].function.arguments', /JSON/);
    await refused({ ...base, messages: [...base.messages, { role: 'assistant', content: null }] }, 'messages[1].content', /content or tool_calls/);
    await refused({ ...base, messages: [...base.messages, { role: 'tool', tool_call_id: 'call_9', content: 'sunny' }] }, 'messages', /call_9/);
    await refused(
      { ...base, messages: [...base.messages, { role: 'assistant', content: null, tool_calls: [{ ...call, function: { name: 'get_weather', arguments: '{}' } }] }, { role: 'user', content: 'and?' }] },
      'messages',
      /call_1.*no tool result/,
    );
    await refused({ ...base, response_format: { type: 'json_object' } }, 'response_format', /tools/);
  });
});

describe('Anthropic messages with tools', () => {
  const tools: Anthropic.Tool[] = [
    { name: 'get_weather', description: 'Current weather in a city', input_schema: weatherParameters as Anthropic.Tool.InputSchema },
    { name: 'set_alarm', description: 'Turn the alarm on or off', input_schema: alarmParameters as Anthropic.Tool.InputSchema },
  ];
  const base = { model: tinyModelId, max_tokens: 60, tools, messages: [{ role: 'user' as const, content: 'What is the weather in Paris?' }] };

  function assertToolUse(block: Anthropic.ContentBlock | undefined, name: string, schema: object): Anthropic.ToolUseBlock {
    assert.ok(block && block.type === 'tool_use', `a tool_use block, got ${JSON.stringify(block)}`);
    assert.deepEqual(Object.keys(block).sort(), ['id', 'input', 'name', 'type']);
    assert.match(block.id, /^toolu_[A-Za-z0-9]{24}$/);
    assert.equal(block.name, name);
    assertArguments(schema, block.input);
    return block;
  }

  test('tool_choice tool returns a tool_use block with stop_reason tool_use', async () => {
    const message = await anthropic.messages.create({ ...base, tool_choice: { type: 'tool', name: 'get_weather' } });
    assert.equal(message.stop_reason, 'tool_use');
    assert.equal(message.content.length, 1, 'no text: the tool_use block only');
    assertToolUse(message.content[0], 'get_weather', weatherParameters);
    assert.ok(message.usage.output_tokens > 0);
  });

  test('tool_choice any calls one of the tools', async () => {
    const message = await anthropic.messages.create({ ...base, tool_choice: { type: 'any' } });
    assert.equal(message.stop_reason, 'tool_use');
    const block = message.content.find((b) => b.type === 'tool_use');
    const tool = tools.find((t) => t.name === (block as Anthropic.ToolUseBlock | undefined)?.name);
    assert.ok(tool, 'called a tool that was given');
    assertToolUse(block, tool.name, tool.input_schema);
  });

  test('streamed: content_block_start of type tool_use and input_json_delta; the SDK accumulates the input', async () => {
    const stream = anthropic.messages.stream({ ...base, tool_choice: { type: 'tool', name: 'set_alarm' } });
    const events: Anthropic.RawMessageStreamEvent[] = [];
    stream.on('streamEvent', (event) => events.push(event));
    const message = await stream.finalMessage();
    assert.equal(message.stop_reason, 'tool_use');
    assertToolUse(message.content[0], 'set_alarm', alarmParameters);
    const start = events.find((event) => event.type === 'content_block_start');
    assert.ok(start && start.type === 'content_block_start');
    assert.equal(start.index, 0);
    assert.equal(start.content_block.type, 'tool_use');
    assert.deepEqual((start.content_block as Anthropic.ToolUseBlock).input, {});
    const delta = events.find((event) => event.type === 'content_block_delta');
    assert.ok(delta && delta.type === 'content_block_delta' && delta.delta.type === 'input_json_delta');
    const end = events.find((event) => event.type === 'message_delta');
    assert.ok(end && end.type === 'message_delta');
    assert.equal(end.delta.stop_reason, 'tool_use');
  });

  test('a follow-up turn with the tool_result is accepted and answered', async () => {
    const first = await anthropic.messages.create({ ...base, tool_choice: { type: 'tool', name: 'get_weather' } });
    const toolUse = first.content.find((block) => block.type === 'tool_use') as Anthropic.ToolUseBlock;
    const messages: Anthropic.MessageParam[] = [
      ...base.messages,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: '21 degrees, clear sky' }] },
    ];
    const followUp = await anthropic.messages.create({ ...base, max_tokens: 5, messages });
    assert.ok(['end_turn', 'max_tokens'].includes(followUp.stop_reason!), String(followUp.stop_reason));
    assert.equal(followUp.content[0]!.type, 'text');
    const counted = await anthropic.messages.countTokens({ model: tinyModelId, tools, messages });
    assert.equal(followUp.usage.input_tokens, counted.input_tokens, 'count_tokens counts the tools and tool blocks too');
    assert.ok(counted.input_tokens > first.usage.input_tokens);
  });

  test('bad tools and tool choices are 400 invalid_request_errors that say what is wrong', async () => {
    const refused = async (body: object, message: RegExp) => {
      await assert.rejects(anthropic.messages.create(body as any), (error: unknown) => {
        assert.ok(error instanceof Anthropic.BadRequestError, String(error));
        assert.equal((error as any).error.type, 'error');
        assert.equal((error as any).error.error.type, 'invalid_request_error');
        assert.match((error as any).error.error.message, message);
        return true;
      });
    };
    await refused({ ...base, tool_choice: { type: 'tool', name: 'get_time' } }, /tool_choice.*get_time/);
    await refused({ ...base, tool_choice: { type: 'sometimes' } }, /tool_choice.*'auto', 'any', 'tool'/);
    await refused({ ...base, tools: [{ name: 'get weather', input_schema: { type: 'object' } }] }, /tools\[0\]\.name/);
    await refused({ ...base, tools: [{ name: 'f', input_schema: { type: 'string' } }] }, /input_schema.*type 'object'/);
    await refused({ ...base, tools: [tools[0], tools[0]] }, /given twice/);
    await refused(
      { ...base, messages: [...base.messages, { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: 'Paris' }] }] },
      /messages\[1\]\.content\[0\]\.input/,
    );
    await refused({ ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'sunny' }] }] }, /toolu_9/);
  });
});
