import type { BatchValidationError, NewBatchLine } from '../store/index.js';

/** The endpoints a batch may target, as OpenAI names them. */
export const batchEndpoints = ['/v1/chat/completions', '/v1/completions', '/v1/embeddings'] as const;
export type BatchEndpoint = (typeof batchEndpoints)[number];

/** Validation stops collecting after this many errors (the batch fails either way). */
const maxReportedErrors = 100;

export type InputValidation = { lines: NewBatchLine[]; errors: [] } | { lines: []; errors: BatchValidationError[] };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks an OpenAI batch input file (JSONL) the way OpenAI does before running anything: every
 *  line a JSON object with custom_id, method POST, the batch's url and a body naming a model;
 *  custom_ids unique; at most `maxLines` requests. Any error fails the whole file, with the line
 *  numbers (1-based) and codes OpenAI reports in `errors.data[]`. */
export function validateInputFile(content: string, endpoint: string, maxLines: number): InputValidation {
  const errors: BatchValidationError[] = [];
  const lines: NewBatchLine[] = [];
  const seen = new Set<string>();
  const report = (line: number | null, code: string, message: string, param: string | null = null) => {
    if (errors.length < maxReportedErrors) errors.push({ code, line, message, param });
  };
  const texts = content.split('\n');
  if (texts.at(-1)?.trim() === '') texts.pop();
  if (texts.length === 0 || texts.every((text) => text.trim() === '')) {
    return { lines: [], errors: [{ code: 'empty_file', line: null, message: 'The input file has no requests. Upload a JSONL file with one request per line.', param: null }] };
  }
  if (texts.length > maxLines) {
    return {
      lines: [],
      errors: [{ code: 'too_many_requests', line: null, message: `The input file has ${texts.length} lines; a batch holds at most ${maxLines}. Split it into several batches.`, param: null }],
    };
  }
  texts.forEach((text, index) => {
    const line = index + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      report(line, 'invalid_json_line', 'This line is not parseable as valid JSON. Write one JSON object per line.');
      return;
    }
    if (!isObject(parsed)) return report(line, 'invalid_json_line', 'This line is not a JSON object. Write one JSON object per line.');
    const { custom_id: customId, method, url, body } = parsed;
    for (const field of ['custom_id', 'method', 'url', 'body'] as const) {
      if (parsed[field] === undefined) report(line, 'missing_required_parameter', `This line is missing the required parameter '${field}'.`, field);
    }
    if (customId === undefined || method === undefined || url === undefined || body === undefined) return;
    if (typeof customId !== 'string' || customId.length === 0) return report(line, 'invalid_custom_id', "'custom_id' must be a non-empty string.", 'custom_id');
    if (seen.has(customId)) {
      return report(line, 'duplicate_custom_id', `The custom_id '${customId}' is a duplicate of another request's. Each request of a batch needs its own custom_id.`, 'custom_id');
    }
    seen.add(customId);
    if (method !== 'POST') return report(line, 'invalid_method', `'method' must be 'POST' (got ${JSON.stringify(method)}).`, 'method');
    if (url !== endpoint) {
      return report(line, 'mismatched_endpoint', `This request's url (${JSON.stringify(url)}) does not match the batch's endpoint '${endpoint}'. Every line of a batch goes to its endpoint.`, 'url');
    }
    if (!isObject(body)) return report(line, 'invalid_body', "'body' must be a JSON object: the request body for the endpoint.", 'body');
    if (typeof body.model !== 'string' || body.model.length === 0) return report(line, 'missing_required_parameter', "This request's body is missing 'model'.", 'body.model');
    if (body.stream === true) return report(line, 'invalid_body', 'Batch requests cannot stream; remove "stream": true.', 'body.stream');
    lines.push({ line, customId, model: body.model, body: JSON.stringify(body) });
  });
  return errors.length > 0 ? { lines: [], errors } : { lines, errors: [] };
}
