/**
 * A batch body (a JSON array, one JSON value, or NDJSON) cut into items on its raw bytes, each item then
 * judged on its own: UTF-8, nesting, JSON, and the record guard. Cutting before decoding is what lets one
 * bad item (invalid UTF-8, 5,000 levels deep) be refused with its own reason while the rest go on, and
 * keeps its raw bytes for the dead-letter queue. Every byte the cut looks at is ASCII, and no byte of a
 * multi-byte UTF-8 sequence is, so invalid UTF-8 cannot confuse it.
 */
import { depthProblem, inspect } from './record-guard.ts';
import { base64, utf8Bytes, utf8Lenient, utf8OrUndefined } from './text-codec.ts';

export type BatchItem =
  | { value: unknown }
  | { error: string; raw: string; rawEncoding: 'utf8' | 'base64' };

/** Items of a JSON body: an array's elements, or the one value. A body that is not JSON at all: a string. */
export function jsonBatchItems(body: Uint8Array): BatchItem[] | string {
  const slices = splitJsonArray(body);
  if (typeof slices === 'string') return slices;
  return slices.map((slice, i) => judgeItem(slice, slices.length === 1 && !isArrayBody(body) ? 'body' : `item ${i}`));
}

/** Items of an NDJSON body, one per non-blank line (a trailing \r is dropped). */
export function ndjsonBatchItems(body: Uint8Array): BatchItem[] {
  const items: BatchItem[] = [];
  let start = hasBom(body) ? 3 : 0;
  let line = 1;
  while (start <= body.length) {
    let end = body.indexOf(0x0a, start);
    if (end < 0) end = body.length;
    let last = end;
    if (last > start && body[last - 1] === 0x0d) last--;
    const slice = body.subarray(start, last);
    if (!isBlank(slice)) items.push(judgeItem(slice, `line ${line}`));
    start = end + 1;
    line++;
  }
  return items;
}

/** One item's verdict: its value, or why not with its raw text (base64 when it is not UTF-8). */
export function judgeItem(bytes: Uint8Array, label: string): BatchItem {
  const text = utf8OrUndefined(bytes);
  if (text === undefined) {
    return { error: `${label} is not valid UTF-8 (refused rather than stored with replacement characters)`, raw: base64(bytes), rawEncoding: 'base64' };
  }
  const refuse = (reason: string): BatchItem => ({ error: `${label}${reason}`, raw: text, rawEncoding: 'utf8' });
  const deep = depthProblem(bytes);
  if (deep !== undefined) return refuse(` is ${deep}`);
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    return refuse(` is not JSON: ${(error as Error).message}`);
  }
  const problem = inspect(value);
  return problem === undefined ? { value } : refuse(`: ${problem}`);
}

/**
 * Byte ranges of a top-level array's elements (or the whole body when it is not an array); a string when
 * the brackets do not balance or something follows the array, which makes the body as a whole not JSON.
 */
export function splitJsonArray(body: Uint8Array): Uint8Array[] | string {
  let i = skipSpace(body, hasBom(body) ? 3 : 0);
  if (i >= body.length) return 'body is empty';
  if (body[i] !== 0x5b) return [body.subarray(i)];
  const items: Uint8Array[] = [];
  let depth = 0;
  let inString = false;
  let start = i + 1;
  for (; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) {
        const last = body.subarray(start, i);
        if (!isBlank(last) || items.length > 0) items.push(last);
        if (skipSpace(body, i + 1) < body.length) return 'body is not JSON: unexpected text after the array';
        return items;
      }
    } else if (c === 0x2c && depth === 1) {
      items.push(body.subarray(start, i));
      start = i + 1;
    }
  }
  return 'body is not JSON: the array is not closed';
}

/** Whether a JSON body is an array (its first visible byte is `[`). */
export function isArrayBody(body: Uint8Array): boolean {
  return body[skipSpace(body, hasBom(body) ? 3 : 0)] === 0x5b;
}

function hasBom(body: Uint8Array): boolean {
  return body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
}

function skipSpace(body: Uint8Array, from: number): number {
  let i = from;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  return i;
}

function isBlank(bytes: Uint8Array): boolean {
  return skipSpace(bytes, 0) === bytes.length;
}

/** Raw text cut so that, with the envelope around it, a parseError record stays under `maxBytes`. */
export function truncateRaw(raw: string, maxBytes: number): string {
  const budget = Math.max(0, maxBytes - 4096);
  const encoded = utf8Bytes(raw);
  if (encoded.length <= budget) return raw;
  // JSON escaping can grow text up to six times (control characters): cut further until it fits.
  let cut = budget;
  for (;;) {
    const text = utf8Lenient(encoded.subarray(0, cut)).replace(/\uFFFD$/, '');
    if (utf8Bytes(JSON.stringify(text)).length <= budget || cut === 0) return text;
    cut = Math.floor(cut / 2);
  }
}
