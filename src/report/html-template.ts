/**
 * HTML that escapes by default: every value interpolated into `html\`...\`` is escaped (HTML's
 * special characters and the control characters a terminal would obey), unless it is itself
 * `Html`: the result of another `html\`...\``, or a fragment declared trusted with `raw`.
 */
import { htmlControlChars } from '../control-chars.js';

/** A piece of HTML whose text is safe to put in a page as it is. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Interpolated values: Html as it is, text and numbers escaped, nothing for null, undefined and false, lists joined. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/** Already-built HTML the caller vouches for (a script, JSON inside a script element). */
export const raw = (text: string) => new Html(text);

export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  return new Html(strings.reduce((out, text, i) => out + render(values[i - 1]) + text));
}

/** Fragments one after another, with `separator` (a newline keeps the page source readable) between them. */
export const joinHtml = (fragments: readonly Html[], separator = '') =>
  new Html(fragments.map((fragment) => fragment.text).join(separator));

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

/** HTML's special characters, and the control characters a terminal would obey (`cat report.html` stays harmless). */
function escapeHtml(text: string): string {
  return htmlControlChars(text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!));
}
