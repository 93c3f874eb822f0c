// Text extraction from uploaded files by type: txt, md, html, json, pdf (a PDF built in the test),
// and the typed errors for unsupported types and files without text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { extractText, detectFileType } from '../core/rag/extract/index.js';
import { isApiError } from '../core/errors/index.js';
import { minimalPdf } from './support/pdf.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

async function assertRejects(promise: Promise<unknown>, status: number, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error) => isApiError(error) && error.status === status && pattern.test(error.message));
}

describe('extractText', () => {
  test('txt and md: the UTF-8 text, BOM dropped, trimmed', async () => {
    assert.deepEqual(await extractText({ filename: 'notes.txt', bytes: utf8('\uFEFF  Grüße, 世界\n') }), { type: 'txt', text: 'Grüße, 世界' });
    assert.deepEqual(await extractText({ filename: 'README.MD', bytes: utf8('# Title\n\n- item') }), { type: 'md', text: '# Title\n\n- item' });
  });

  test('html: visible text only, blocks on their own lines, entities decoded', async () => {
    const html = `<!doctype html><html><head><title>T</title><style>p { color: red }</style><script>var secret = 1;</script></head>
      <body><h1>Pump manual</h1><p>Check the seals &amp; valves.</p><noscript>enable js</noscript><ul><li>one</li><li>two</li></ul>
      <script type="module">alert('x')</script></body></html>`;
    const { type, text } = await extractText({ filename: 'manual.html', bytes: utf8(html) });
    assert.equal(type, 'html');
    assert.deepEqual(text.split('\n').map((line) => line.trim()).filter(Boolean), ['Pump manual', 'Check the seals & valves.', 'one', 'two']);
    assert.doesNotMatch(text, /secret|color|alert|enable js/);
  });

  test('json: pretty-printed, keys beside their values', async () => {
    const { type, text } = await extractText({ filename: 'part.json', bytes: utf8('{"part":"XK-4471","sizes":[1,2],"stock":{"bin":"A3"}}') });
    assert.equal(type, 'json');
    assert.equal(text, JSON.stringify({ part: 'XK-4471', sizes: [1, 2], stock: { bin: 'A3' } }, null, 2));
    assert.match(text, /"bin": "A3"/);
  });

  test('invalid JSON is a 400 that says so', async () => {
    await assertRejects(extractText({ filename: 'bad.json', bytes: utf8('{"a":') }), 400, /bad\.json is not valid JSON/);
  });

  test('pdf: the text of every page, in order', async () => {
    const bytes = minimalPdf([['Pump manual (rev 2)', 'Check the seals.'], ['Part XK-4471 fits the housing.']]);
    const { type, text } = await extractText({ filename: 'manual.pdf', bytes });
    assert.equal(type, 'pdf');
    const pages = text.split('\n\n');
    assert.equal(pages.length, 2);
    assert.match(pages[0]!, /Pump manual \(rev 2\)\s+Check the seals\./);
    assert.match(pages[1]!, /Part XK-4471 fits the housing\./);
    // The caller's buffer is not detached by pdf.js.
    assert.equal(bytes.byteLength > 0 && bytes[0], 0x25);
  });

  test('a PDF without text, and a broken PDF, are 400s', async () => {
    await assertRejects(extractText({ filename: 'scan.pdf', bytes: minimalPdf([[]]) }), 400, /scan\.pdf \(pdf\) contains no text.*OCR/);
    await assertRejects(extractText({ filename: 'broken.pdf', bytes: utf8('%PDF-1.4 nothing else') }), 400, /broken\.pdf could not be read as a PDF/);
  });

  test('empty and whitespace-only files are 400s naming the file and type', async () => {
    await assertRejects(extractText({ filename: 'empty.txt', bytes: new Uint8Array() }), 400, /empty\.txt \(txt\) contains no text/);
    await assertRejects(extractText({ filename: 'blank.md', bytes: utf8(' \n\t ') }), 400, /blank\.md \(md\) contains no text/);
    await assertRejects(extractText({ filename: 'only-script.html', bytes: utf8('<script>x()</script><style>a{}</style>') }), 400, /\(html\) contains no text/);
  });

  test('unsupported types are a 415 naming the type and the supported ones', async () => {
    await assertRejects(
      extractText({ filename: 'report.docx', bytes: utf8('PK...'), mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document' }),
      415,
      /report\.docx \(\.docx, application\/vnd[^)]*\) is not a type llmsvc can read; supported types: \.txt, \.md, \.html, \.json, \.pdf/,
    );
    await assertRejects(extractText({ filename: 'blob', bytes: utf8('data') }), 415, /blob \(no extension\)/);
  });

  test('text that is not UTF-8 is a 400', async () => {
    await assertRejects(extractText({ filename: 'latin1.txt', bytes: new Uint8Array([0x47, 0x72, 0xfc, 0xdf, 0x65]) }), 400, /not valid UTF-8/);
  });
});

describe('detectFileType', () => {
  test('extension first, then the MIME type, then PDF magic bytes', () => {
    assert.equal(detectFileType('a.htm', utf8(''), 'application/pdf'), 'html');
    assert.equal(detectFileType('upload', utf8(''), 'text/markdown; charset=utf-8'), 'md');
    assert.equal(detectFileType('upload', utf8('%PDF-1.7'), 'application/octet-stream'), 'pdf');
    assert.equal(detectFileType('upload', utf8('hello'), 'application/octet-stream'), undefined);
  });
});
