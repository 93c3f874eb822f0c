import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatRequest, GenerationEvent } from '../core/providers/types.js';
import {
  createRedactor,
  findPersonalData,
  passesIbanCheck,
  passesLuhn,
  redactorForRoute,
  type RedactionKind,
} from '../core/routing/redaction/index.js';

const found = (text: string, kinds: RedactionKind[]) => findPersonalData(text, new Set(kinds)).map((finding) => finding.value);
const chat = (...messages: ChatRequest['messages']): ChatRequest => ({ model: 'cloud/x', sampling: {}, messages });
const userText = (request: ChatRequest) => request.messages[0]!.content;

async function* eventsOf(...events: GenerationEvent[]): AsyncGenerator<GenerationEvent> {
  yield* events;
}
async function collect(events: AsyncIterable<GenerationEvent>): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}
const textOf = (events: GenerationEvent[]) => events.map((event) => (event.type === 'text' ? event.text : '')).join('');
const end: GenerationEvent = { type: 'end', finishReason: 'stop', completionTokens: 5 };

describe('detection', () => {
  test('e-mail addresses', () => {
    assert.deepEqual(found('mail bob.smith+news@example.co.uk or ALICE@Mail.Example.com.', ['email']), [
      'bob.smith+news@example.co.uk',
      'ALICE@Mail.Example.com',
    ]);
    assert.deepEqual(found('@handle, a@b, user@localhost, 2@3', ['email']), []);
  });

  test('phone numbers: international and national formats', () => {
    const phones = [
      '+1 (555) 123-4567',
      '+44 (0) 20 7946 0958',
      '+4930123456',
      '0049 30 12345678',
      '(555) 123-4567',
      '555-123-4567',
      '555.123.4567',
      '030 12345678',
      '06 12 34 56 78',
      '0171/1234567',
      '(030) 1234567',
    ];
    for (const number of phones) assert.deepEqual(found(`call ${number} today`, ['phone']), [number], number);
  });

  test('plain numbers are not phone numbers', () => {
    const text =
      'In 2023 2024 2025 we used 12345 tokens (1234567 in total), 1.234.567 views, 1 234 567 users, ' +
      'on 2024-01-15 and 01.02.2024 10:00, version 1.2.3, pi 3.14159265, ratio 0.123456789, order #123456789.';
    assert.deepEqual(found(text, ['phone']), []);
  });

  test('payment cards: Luhn-checked, with spaces or dashes', () => {
    assert.deepEqual(found('4111 1111 1111 1111, 4111-1111-1111-1111, 5555555555554444, 3782 822463 10005', ['card']), [
      '4111 1111 1111 1111',
      '4111-1111-1111-1111',
      '5555555555554444',
      '3782 822463 10005',
    ]);
    assert.deepEqual(found('4111 1111 1111 1112, 5555555555554445, 4111 1111-1111 1111', ['card']), [], 'Luhn fails or mixed separators');
    assert.equal(passesLuhn('79927398713'), true);
    assert.equal(passesLuhn('79927398710'), false);
  });

  test('IBANs: mod-97 checked, grouped or not', () => {
    assert.deepEqual(found('IBAN DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX; GB82WEST12345698765432.', ['iban']), [
      'DE89 3704 0044 0532 0130 00',
      'GB82WEST12345698765432',
    ]);
    assert.deepEqual(found('DE89 3704 0044 0532 0130 01, GB82WEST12345698765433', ['iban']), []);
    assert.equal(passesIbanCheck('fr14 2004 1010 0505 0001 3m02 606'), true);
    assert.equal(passesIbanCheck('FR14 2004 1010 0505 0001 3M02 607'), false);
  });

  test('IPv4 and IPv6 addresses', () => {
    assert.deepEqual(found('hosts 192.168.1.10, 10.0.0.1. 2001:db8::8a2e:370:7334 fe80::1 ::ffff:192.168.1.1', ['ip']), [
      '192.168.1.10',
      '10.0.0.1',
      '2001:db8::8a2e:370:7334',
      'fe80::1',
      '::ffff:192.168.1.1',
    ]);
    assert.deepEqual(found('999.1.1.1, 1.2.3, 12:30:45, std::vector, Ab::Cd, ::', ['ip']), []);
  });

  test('only the configured kinds are redacted', () => {
    const { request } = createRedactor(['email']).redact(chat({ role: 'user', content: 'a@example.com +4930123456' }));
    assert.equal(userText(request), '[EMAIL_1] +4930123456');
    assert.equal(redactorForRoute(false), undefined);
    assert.equal(redactorForRoute([]), undefined);
    assert.deepEqual(redactorForRoute(true)?.kinds, ['email', 'phone', 'card', 'iban', 'ip']);
  });
});

describe('placeholders', () => {
  test('the same value gets the same placeholder across messages; each kind counts on its own', () => {
    const original = chat(
      { role: 'system', content: 'Support for a@example.com.' },
      { role: 'user', content: 'I am a@example.com, also b@example.com, phone +4930123456, again a@example.com' },
    );
    const { request, replaced } = createRedactor().redact(original);
    assert.equal(request.messages[0]!.content, 'Support for [EMAIL_1].');
    assert.equal(request.messages[1]!.content, 'I am [EMAIL_1], also [EMAIL_2], phone [PHONE_1], again [EMAIL_1]');
    assert.equal(replaced, 3);
    assert.equal(original.messages[0]!.content, 'Support for a@example.com.', 'the original request is untouched');
  });

  test("a placeholder the user wrote is never handed out, and stays as it is in the answer", () => {
    const session = createRedactor().redact(chat({ role: 'user', content: 'Template: [EMAIL_1]. Mine is a@example.com' }));
    assert.equal(userText(session.request), 'Template: [EMAIL_1]. Mine is [EMAIL_2]');
    assert.equal(session.restoreText('[EMAIL_1] / [EMAIL_2] / [EMAIL_9]'), '[EMAIL_1] / a@example.com / [EMAIL_9]');
  });

  test('tool-call arguments and tool results are redacted, even behind JSON escapes', () => {
    const session = createRedactor().redact(
      chat(
        { role: 'user', content: 'Email a@example.com' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'send', arguments: '{"to":"a@example.com","note":"line\\n+4930123456"}' }] },
        { role: 'tool', toolCallId: 'c1', content: '{"delivered_to": ["a@example.com"], "from": "10.0.0.7"}' },
        { role: 'tool', toolCallId: 'c2', content: 'plain text from b@example.com' },
      ),
    );
    const [, assistant, toolResult, plainResult] = session.request.messages;
    assert.equal(assistant?.role === 'assistant' && assistant.toolCalls?.[0]?.arguments, '{"to":"[EMAIL_1]","note":"line\\n[PHONE_1]"}');
    assert.equal(toolResult?.content, '{"delivered_to":["[EMAIL_1]"],"from":"[IP_1]"}');
    assert.equal(plainResult?.content, 'plain text from [EMAIL_2]');
  });

  test('restores a whole answer and a non-streamed generation', async () => {
    const session = createRedactor().redact(chat({ role: 'user', content: 'I am a@example.com' }));
    assert.equal(session.restoreText('Hello [EMAIL_1]!'), 'Hello a@example.com!');
    const generation = session.restoreGeneration({ promptTokens: 3, maxTokens: 10, events: eventsOf({ type: 'text', text: 'Hi [EMAIL_1]' }, end) });
    assert.equal(generation.promptTokens, 3);
    assert.deepEqual(await collect(generation.events), [{ type: 'text', text: 'Hi a@example.com' }, end]);
  });
});

describe('streaming restore', () => {
  const session = createRedactor().redact(
    chat({ role: 'user', content: 'Contact a@example.com or +4930123456; card 4111 1111 1111 1111' }),
  );
  const answer = 'Write to [EMAIL_1], [not a placeholder] or [EMAIL_; call [PHONE_1]. Card [CARD_1]][EMAIL_9] [';
  const restored = 'Write to a@example.com, [not a placeholder] or [EMAIL_; call +4930123456. Card 4111 1111 1111 1111][EMAIL_9] [';

  test('every split of the answer into two deltas restores the same text', async () => {
    for (let split = 0; split <= answer.length; split++) {
      const events = await collect(
        session.restoreEvents(eventsOf({ type: 'text', text: answer.slice(0, split) }, { type: 'text', text: answer.slice(split) }, end)),
      );
      assert.equal(textOf(events), restored, `split at ${split}`);
      assert.deepEqual(events.at(-1), end, `split at ${split}`);
      assert.ok(events.every((event) => event.type !== 'text' || event.text !== ''), 'no empty deltas');
    }
  });

  test('one character per delta, and a partial placeholder is released when the stream ends', async () => {
    const deltas = [...answer].map((char): GenerationEvent => ({ type: 'text', text: char }));
    assert.equal(textOf(await collect(session.restoreEvents(eventsOf(...deltas)))), restored);
    assert.deepEqual(await collect(session.restoreEvents(eventsOf({ type: 'text', text: 'see [EMA' }))), [
      { type: 'text', text: 'see ' },
      { type: 'text', text: '[EMA' },
    ]);
  });

  test('held text comes out before a tool call; arguments are restored as JSON', async () => {
    const call = { id: 'c1', name: 'send', arguments: '{"to":"[EMAIL_1]","card":"[CARD_1]"}' };
    const events = await collect(
      session.restoreEvents(
        eventsOf({ type: 'text', text: 'Sending to [EMAIL' }, { type: 'tool_call', call }, { ...end, finishReason: 'tool_calls' }),
      ),
    );
    assert.deepEqual(events, [
      { type: 'text', text: 'Sending to ' },
      { type: 'text', text: '[EMAIL' },
      { type: 'tool_call', call: { ...call, arguments: '{"to":"a@example.com","card":"4111 1111 1111 1111"}' } },
      { ...end, finishReason: 'tool_calls' },
    ]);
  });

  test('a request with nothing to redact passes its events through untouched', async () => {
    const plain = createRedactor().redact(chat({ role: 'user', content: 'Hello' }));
    assert.equal(plain.replaced, 0);
    const events: GenerationEvent[] = [{ type: 'text', text: '[EMA' }, { type: 'text', text: 'IL_1]' }, end];
    assert.deepEqual(await collect(plain.restoreEvents(eventsOf(...events))), events);
  });

  test('leaving the loop early stops the upstream stream', async () => {
    let finished = false;
    async function* upstream(): AsyncGenerator<GenerationEvent> {
      try {
        yield { type: 'text', text: 'a' };
        yield { type: 'text', text: 'b' };
      } finally {
        finished = true;
      }
    }
    for await (const _event of session.restoreEvents(upstream())) break;
    assert.equal(finished, true);
  });
});
