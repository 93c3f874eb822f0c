import type { GenerationEvent } from '../../providers/types.js';
import type { PlaceholderTable } from './placeholders.js';

/** Puts the original values back into a streamed answer. A text delta may end inside a
 *  placeholder ("…write to [EMA" + "IL_1] today"), so a tail that could still become one of this
 *  request's placeholders is held back until the next delta settles it. Only the text after
 *  the last "[" can be such a tail: placeholders contain no "[". Held text is released before
 *  any other event and at the end, so nothing is lost or reordered. */
export async function* restoreEvents(
  events: AsyncIterable<GenerationEvent>,
  table: PlaceholderTable,
): AsyncGenerator<GenerationEvent> {
  if (table.size === 0) {
    yield* events;
    return;
  }
  const placeholders = [...table.placeholders()];
  const couldBecomePlaceholder = (tail: string) => placeholders.some((p) => p.length > tail.length && p.startsWith(tail));
  let held = '';
  for await (const event of events) {
    if (event.type === 'text') {
      const text = held + event.text;
      const open = text.lastIndexOf('[');
      const keep = open >= 0 && couldBecomePlaceholder(text.slice(open)) ? text.length - open : 0;
      held = text.slice(text.length - keep);
      const ready = table.restore(text.slice(0, text.length - keep));
      if (ready) yield { type: 'text', text: ready };
      continue;
    }
    if (held) yield { type: 'text', text: held };
    held = '';
    if (event.type === 'tool_call') {
      // The arguments are JSON text: a value goes back in JSON-escaped, inside its string.
      const jsonEscape = (value: string) => JSON.stringify(value).slice(1, -1);
      yield { ...event, call: { ...event.call, arguments: table.restore(event.call.arguments, jsonEscape) } };
    } else {
      yield event;
    }
  }
  if (held) yield { type: 'text', text: held };
}
