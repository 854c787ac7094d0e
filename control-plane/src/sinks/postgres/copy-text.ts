/**
 * PostgreSQL COPY text format (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format"):
 * columns separated by tab, rows by newline, `\N` for NULL; backslash, tab, newline and carriage return in a
 * value are backslash-escaped. NUL cannot be stored in a text value at all, so callers reject such records
 * before they reach COPY (see `containsNul`).
 */
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

export function copyTextValue(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'number' ? String(value) : value;
  // Most values need no escaping; testing first avoids a replace allocation on the hot path.
  return SPECIAL.test(text) ? text.replace(SPECIAL_ALL, (c) => ESCAPES[c] ?? c) : text;
}

export function copyTextRow(values: ReadonlyArray<string | number | null | undefined>): string {
  let row = '';
  for (let i = 0; i < values.length; i++) row += (i === 0 ? '' : '\t') + copyTextValue(values[i]);
  return `${row}\n`;
}

export function containsNul(value: string): boolean {
  return value.includes('\u0000');
}
