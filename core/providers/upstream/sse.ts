/** Bytes the decoder compares against. */
const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from('data');

/** Reads a text/event-stream body from Node Buffers as they arrive off the socket and hands out
 *  each event's data (its `data:` lines joined with "\n", as the SSE spec says) when the blank
 *  line that ends the event arrives. Lines are found with Buffer#indexOf and decoded one by one,
 *  so a line (or a multi-byte character) split across TCP chunks is kept as bytes until its end
 *  arrives. Other fields (`event:`, `id:`, `retry:`) and comments are skipped: OpenAI's streams
 *  say everything in `data`. Lines end in LF or CRLF (a lone CR, which the spec also allows, is
 *  not used by any OpenAI-compatible server we know of). */
export class SseDataDecoder {
  /** The start of a line whose end has not arrived yet. */
  private pending: Buffer | undefined;
  /** The data of the event being read; undefined: no data line yet. */
  private data: string | undefined;

  constructor(private readonly onEvent: (data: string) => void) {}

  push(chunk: Buffer): void {
    let buffer = chunk;
    if (this.pending) {
      buffer = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let start = 0;
    const length = buffer.length;
    while (start < length) {
      const newline = buffer.indexOf(LF, start);
      if (newline === -1) {
        // Copy: a view would keep the whole (possibly large) chunk alive.
        this.pending = Buffer.from(buffer.subarray(start));
        return;
      }
      this.line(buffer, start, newline > start && buffer[newline - 1] === CR ? newline - 1 : newline);
      start = newline + 1;
    }
  }

  /** The body ended: a last line without its newline, and an event without its blank line,
   *  still count (as the openai SDK's decoder has it). */
  end(): void {
    if (this.pending) {
      const rest = this.pending;
      this.pending = undefined;
      this.line(rest, 0, rest.length > 0 && rest[rest.length - 1] === CR ? rest.length - 1 : rest.length);
    }
    this.dispatch();
  }

  private line(buffer: Buffer, start: number, end: number): void {
    if (end === start) return this.dispatch();
    // `data` or `data:…`; anything else (other fields, `:` comments) is skipped.
    if (end - start < 4 || buffer.compare(DATA, 0, 4, start, start + 4) !== 0) return;
    let value = start + 4;
    if (value < end) {
      if (buffer[value] !== COLON) return; // a field whose name merely starts with "data"
      value++;
      if (buffer[value] === SPACE) value++;
    }
    const text = buffer.toString('utf8', value, end);
    this.data = this.data === undefined ? text : `${this.data}\n${text}`;
  }

  private dispatch(): void {
    const data = this.data;
    if (data === undefined) return;
    this.data = undefined;
    this.onEvent(data);
  }
}
