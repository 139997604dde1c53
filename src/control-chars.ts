/**
 * What a terminal would obey in text a user prints (a grid value, a spec name, a CSV header, a
 * path): C0 controls but tab and newline, DEL, C1 controls (U+0080-U+009F, which some terminals
 * obey like ESC sequences), and the bidirectional marks, embeddings, overrides and isolates.
 * The CLI's output, the stored JSON files and the HTML reports escape them all.
 */
export const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(4, '0');

/** Escapes them as `\uXXXX`: JSON text stays JSON with the same value. */
export const escapeControlChars = (text: string) => text.replace(CONTROL_CHARS, (c) => `\\u${hex(c)}`);

/** JSON whose text holds no control character raw (JSON.stringify leaves DEL, C1 and bidirectional ones as they are). */
export const jsonText = (value: unknown, indent?: number) => escapeControlChars(JSON.stringify(value, null, indent));

/** Escapes them as HTML character references, for text in a page (`&#x1b;` shows, it does not act). */
export const htmlControlChars = (text: string) => text.replace(CONTROL_CHARS, (c) => `&#x${hex(c)};`);
