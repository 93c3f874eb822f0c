import { parse } from 'node-html-parser';

/** Elements whose content is not text a reader sees. */
const invisible = 'script, style, noscript, template, svg, canvas, iframe, object, head';

/** The visible text of an HTML document, with block elements on lines of their own. */
export function htmlToText(html: string): string {
  // node-html-parser keeps a doctype as a text node.
  const root = parse(html.replace(/^\s*<!doctype[^>]*>/i, ''), { comment: false, blockTextElements: { script: true, style: true, noscript: true, pre: true } });
  for (const element of root.querySelectorAll(invisible)) element.remove();
  // structuredText puts block elements (p, div, li, h1…) on their own lines and decodes entities.
  return root.structuredText;
}
