import { ApiError } from '../../errors/index.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** UTF-8 (a BOM is dropped); anything else is refused rather than turned into U+FFFD noise that
 *  would then be embedded and searched. */
export function decodeUtf8(bytes: Uint8Array, filename: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File ${filename} is not valid UTF-8 text; convert it to UTF-8 and upload it again.`, 'file');
  }
}
