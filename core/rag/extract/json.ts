import { ApiError } from '../../errors/index.js';

/** JSON re-printed with two-space indentation: keys stay next to their values (so both are found
 *  by keyword search and seen by the embedding model), nesting stays readable, and minified
 *  files are split into lines that chunk well. */
export function jsonToText(text: string, filename: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File ${filename} is not valid JSON (${(error as Error).message}); fix it or upload it as .txt.`, 'file');
  }
  return JSON.stringify(value, null, 2);
}
