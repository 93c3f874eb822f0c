// Loaded on first use, like pdf.js: most processes never read an HTML file (~80 ms and ~8 MB of
// start-up otherwise, measured).
let parser: Promise<typeof import('node-html-parser').parse> | undefined;

/** Elements whose content is not text a reader sees. */
const invisible = 'script, style, noscript, template, svg, canvas, iframe, object, head';

/** The visible text of an HTML document, with block elements on lines of their own. */
export async function htmlToText(html: string): Promise<string> {
  const parse = await (parser ??= import('node-html-parser').then((module) => module.parse));
  // node-html-parser keeps a doctype as a text node.
  const root = parse(html.replace(/^\s*<!doctype[^>]*>/i, ''), { comment: false, blockTextElements: { script: true, style: true, noscript: true, pre: true } });
  for (const element of root.querySelectorAll(invisible)) element.remove();
  // structuredText puts block elements (p, div, li, h1…) on their own lines and decodes entities.
  return root.structuredText;
}
