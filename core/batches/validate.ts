import type { BatchValidationError, NewBatchLine } from '../store/index.js';

/** The endpoints a batch may target, as OpenAI names them. */
export const batchEndpoints = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof batchEndpoints)[number];

/** Validation stops collecting after this many errors (the batch fails either way). */
const maxReportedErrors = 100;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks an OpenAI batch input file (JSONL) a line at a time, the way OpenAI does before running
 *  anything: every line a JSON object with custom_id, method POST, the batch's url and a body
 *  naming a model; custom_ids unique; at most `maxLines` requests. Any error fails the whole
 *  file, with the line numbers (1-based) and codes OpenAI reports in `errors.data[]`. Fed line by
 *  line, so a large file is never held whole. */
export class InputValidator {
  readonly errors: BatchValidationError[] = [];
  private readonly seen = new Set<string>();
  private count = 0;

  constructor(
    private readonly endpoint: string,
    private readonly maxLines: number,
  ) {}

  get failed(): boolean {
    return this.errors.length > 0;
  }

  /** The next line of the file: its request when it is valid. */
  add(text: string): NewBatchLine | undefined {
    const line = ++this.count;
    if (line > this.maxLines) {
      if (line === this.maxLines + 1) {
        this.report(null, 'too_many_requests', `The input file has more than ${this.maxLines} lines; a batch holds at most ${this.maxLines}. Split it into several batches.`);
      }
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return this.report(line, 'invalid_json_line', 'This line is not parseable as valid JSON. Write one JSON object per line.');
    }
    if (!isObject(parsed)) return this.report(line, 'invalid_json_line', 'This line is not a JSON object. Write one JSON object per line.');
    const { custom_id: customId, method, url, body } = parsed;
    let missing = false;
    for (const field of ['custom_id', 'method', 'url', 'body'] as const) {
      if (parsed[field] === undefined) {
        missing = true;
        this.report(line, 'missing_required_parameter', `This line is missing the required parameter '${field}'.`, field);
      }
    }
    if (missing) return undefined;
    if (typeof customId !== 'string' || customId.length === 0) return this.report(line, 'invalid_custom_id', "'custom_id' must be a non-empty string.", 'custom_id');
    if (this.seen.has(customId)) {
      return this.report(line, 'duplicate_custom_id', `The custom_id '${customId}' is a duplicate of another request's. Each request of a batch needs its own custom_id.`, 'custom_id');
    }
    this.seen.add(customId);
    if (method !== 'POST') return this.report(line, 'invalid_method', `'method' must be 'POST' (got ${JSON.stringify(method)}).`, 'method');
    if (url !== this.endpoint) {
      return this.report(line, 'mismatched_endpoint', `This request's url (${JSON.stringify(url)}) does not match the batch's endpoint '${this.endpoint}'. Every line of a batch goes to its endpoint.`, 'url');
    }
    if (!isObject(body)) return this.report(line, 'invalid_body', "'body' must be a JSON object: the request body for the endpoint.", 'body');
    if (typeof body.model !== 'string' || body.model.length === 0) return this.report(line, 'missing_required_parameter', "This request's body is missing 'model'.", 'body.model');
    if (body.stream === true) return this.report(line, 'invalid_body', 'Batch requests cannot stream; remove "stream": true.', 'body.stream');
    return { line, customId, model: body.model, body: JSON.stringify(body) };
  }

  /** After the last line: the file-level checks. */
  finish(): BatchValidationError[] {
    if (this.count === 0) this.report(null, 'empty_file', 'The input file has no requests. Upload a JSONL file with one request per line.');
    return this.errors;
  }

  private report(line: number | null, code: string, message: string, param: string | null = null): undefined {
    if (this.errors.length < maxReportedErrors) this.errors.push({ code, line, message, param });
    return undefined;
  }
}
