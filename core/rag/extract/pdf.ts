import { ApiError } from '../../errors/index.js';

// The legacy build is the one meant for Node (the modern build expects browser APIs). Loaded on
// first use: it is large and most processes never read a PDF.
type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjs: Promise<PdfJs> | undefined;

/** The text of every page, pages separated by a blank line. */
export async function pdfToText(bytes: Uint8Array, filename: string): Promise<string> {
  const { getDocument, VerbosityLevel } = await (pdfjs ??= import('pdfjs-dist/legacy/build/pdf.mjs'));
  // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
  const task = getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: VerbosityLevel.ERRORS });
  let document;
  try {
    document = await task.promise;
  } catch (error) {
    throw new ApiError('LLMSVC_ERR_INVALID_PARAM', `File ${filename} could not be read as a PDF (${(error as Error).message}); check that it is a complete, unencrypted PDF.`, 'file');
  }
  try {
    const pages: string[] = [];
    for (let number = 1; number <= document.numPages; number++) {
      const page = await document.getPage(number);
      const content = await page.getTextContent();
      let text = '';
      for (const item of content.items) {
        if ('str' in item) text += item.str + (item.hasEOL ? '\n' : '');
      }
      pages.push(text.trim());
      page.cleanup();
    }
    return pages.join('\n\n');
  } finally {
    await document.destroy();
  }
}
