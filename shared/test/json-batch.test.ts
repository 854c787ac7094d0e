import { describe, expect, it } from 'vitest';
import { jsonBatchItems, ndjsonBatchItems, splitJsonArray, truncateRaw } from '../src/json-batch.ts';

const bytes = (...parts: Array<string | number[]>): Uint8Array =>
  new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...new TextEncoder().encode(p)] : p)));

describe('json batch: cutting a body into items', () => {
  it('splits an array on its top-level commas only', () => {
    const slices = splitJsonArray(bytes(' [ {"a":[1,2]}, "x,]" ,3 ] '));
    expect(typeof slices === 'string' ? slices : slices.map((s) => new TextDecoder().decode(s).trim())).toEqual(['{"a":[1,2]}', '"x,]"', '3']);
    expect(splitJsonArray(bytes('[]'))).toEqual([]);
    expect(splitJsonArray(bytes('[1,2'))).toMatch(/not closed/);
    expect(splitJsonArray(bytes('[1] x'))).toMatch(/after the array/);
  });

  it('refuses a 5,000-deep item with its own reason and keeps the others', () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const items = jsonBatchItems(bytes(`[{"a":1},${deep},{"a":2}]`));
    expect(items).toEqual([
      { value: { a: 1 } },
      { error: 'item 1 is nested more than 16 levels deep', raw: deep, rawEncoding: 'utf8' },
      { value: { a: 2 } },
    ]);
  });

  it('refuses an item that is not UTF-8 (raw kept as base64), not the request', () => {
    const items = jsonBatchItems(bytes('[{"a":"', [0xff, 0xfe], '"},{"a":"ok"}]'));
    expect(items).toEqual([
      { error: 'item 0 is not valid UTF-8 (refused rather than stored with replacement characters)', raw: btoa('{"a":"\xff\xfe"}'), rawEncoding: 'base64' },
      { value: { a: 'ok' } },
    ]);
  });

  it('judges items by the record guard (1e400, NUL) and JSON syntax', () => {
    const items = jsonBatchItems(bytes('[{"n":1e400},{"s":"\\u0000"},{"a":tru},{"n":12}]'));
    if (typeof items === 'string') throw new Error(items);
    expect(items.map((i) => ('error' in i ? i.error : i.value))).toEqual([
      'item 0: payload.n: not a finite number',
      'item 1: payload.s: contains a NUL character (\\u0000), which PostgreSQL cannot store',
      expect.stringMatching(/^item 2 is not JSON: /) as unknown,
      { n: 12 },
    ]);
    expect(jsonBatchItems(bytes('{"one":1}'))).toEqual([{ value: { one: 1 } }]);
  });

  it('NDJSON: one item per non-blank line, numbered, CRLF tolerated', () => {
    const items = ndjsonBatchItems(bytes('{"a":1}\r\n\n', [0xc3], '\n{"a":2}'));
    expect(items.map((i) => ('error' in i ? i.error : i.value))).toEqual([{ a: 1 }, expect.stringMatching(/^line 3 is not valid UTF-8/) as unknown, { a: 2 }]);
  });

  it('truncateRaw leaves room for the envelope around it', () => {
    expect(truncateRaw('short', 10_000)).toBe('short');
    const cut = truncateRaw('x'.repeat(100_000), 10_000);
    expect(cut.length).toBeLessThanOrEqual(10_000 - 4096);
    expect(new TextEncoder().encode(JSON.stringify(truncateRaw('\u0001'.repeat(50_000), 10_000))).length).toBeLessThanOrEqual(10_000);
  });
});
