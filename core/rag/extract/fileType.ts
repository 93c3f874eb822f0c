import path from 'node:path';

export const supportedFileTypes = ['txt', 'md', 'html', 'json', 'pdf'] as const;
export type SupportedFileType = (typeof supportedFileTypes)[number];

const byExtension: Record<string, SupportedFileType> = {
  '.txt': 'txt',
  '.text': 'txt',
  '.md': 'md',
  '.markdown': 'md',
  '.html': 'html',
  '.htm': 'html',
  '.json': 'json',
  '.pdf': 'pdf',
};

const byMimeType: Record<string, SupportedFileType> = {
  'text/plain': 'txt',
  'text/markdown': 'md',
  'text/x-markdown': 'md',
  'text/html': 'html',
  'application/json': 'json',
  'application/pdf': 'pdf',
};

/** What a file's extension is, for messages: `.docx`, or `no extension`. */
export function describeFileType(filename: string, mimeType?: string): string {
  const extension = path.extname(filename).toLowerCase();
  const name = extension || 'no extension';
  return mimeType ? `${name}, ${mimeType}` : name;
}

/** The type by the file name's extension (as OpenAI decides), else by the MIME type it was
 *  uploaded with, else a PDF by its magic bytes; undefined when none says a supported type. */
export function detectFileType(filename: string, bytes: Uint8Array, mimeType?: string): SupportedFileType | undefined {
  const extension = path.extname(filename).toLowerCase();
  if (extension in byExtension) return byExtension[extension];
  const essence = mimeType?.split(';')[0]!.trim().toLowerCase();
  if (essence && essence in byMimeType) return byMimeType[essence];
  if (Buffer.from(bytes.subarray(0, 5)).toString('latin1') === '%PDF-') return 'pdf';
  return undefined;
}
