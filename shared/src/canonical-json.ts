/**
 * Canonical JSON: object keys sorted (by UTF-16 code unit, recursively), no whitespace, numbers and strings
 * as JSON.stringify writes them. Two parses of the same document, whatever the key order of the sender,
 * give the same text, so a hash of it can name the record (record-id.ts, http-poll content ids).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // undefined, functions and symbols have no JSON form; inside arrays JSON writes them as null.
    const text = JSON.stringify(value) as string | undefined;
    return text ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
