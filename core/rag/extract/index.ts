import { ApiError } from '../../errors/index.js';
import { decodeUtf8 } from './decodeText.js';
import { describeFileType, detectFileType, supportedFileTypes, type SupportedFileType } from './fileType.js';
import { htmlToText } from './html.js';
import { jsonToText } from './json.js';
import { pdfToText } from './pdf.js';

export { detectFileType, supportedFileTypes, type SupportedFileType } from './fileType.js';

export interface UploadedFile {
  filename: string;
  bytes: Uint8Array;
  /** The Content-Type it was uploaded with, if any; the extension wins when both are known. */
  mimeType?: string;
}

export interface ExtractedText {
  type: SupportedFileType;
  text: string;
}

const extractors: Record<SupportedFileType, (bytes: Uint8Array, filename: string) => string | Promise<string>> = {
  txt: decodeUtf8,
  md: decodeUtf8,
  html: (bytes, filename) => htmlToText(decodeUtf8(bytes, filename)),
  json: (bytes, filename) => jsonToText(decodeUtf8(bytes, filename), filename),
  pdf: pdfToText,
};

/** The text of an uploaded file, by its type. Unsupported types are a 415 and files without
 *  text (empty, whitespace, a scanned PDF) a 400, each naming the file and what to do. */
export async function extractText(file: UploadedFile): Promise<ExtractedText> {
  const type = detectFileType(file.filename, file.bytes, file.mimeType);
  if (!type) {
    const supported = supportedFileTypes.map((t) => `.${t}`).join(', ');
    throw new ApiError(
      'LLMSVC_ERR_UNSUPPORTED_MEDIA_TYPE',
      `File ${file.filename} (${describeFileType(file.filename, file.mimeType)}) is not a type llmsvc can read; supported types: ${supported}.`,
      'file',
    );
  }
  const text = (await extractors[type](file.bytes, file.filename)).trim();
  if (text === '') {
    const hint = type === 'pdf' ? ' A scanned PDF needs OCR before it can be searched.' : '';
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File ${file.filename} (${type}) contains no text to index.${hint}`, 'file');
  }
  return { type, text };
}
