import { describe, expect, it } from 'vitest';
import { inspect, jsonTextDepth, MAX_EXACT_NUMBER, MAX_FIELD_PATHS, MAX_NESTING_DEPTH } from '../src/record-guard.ts';

function nested(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

describe('record guard: inspect', () => {
  it('passes ordinary records', () => {
    expect(inspect({ id: 1, name: 'pear', tags: ['a', 'b'], at: { lat: 52.1, lon: -0.5 }, ok: true, none: null })).toBeUndefined();
    expect(inspect('text')).toBeUndefined();
    expect(inspect([1, 2, 3])).toBeUndefined();
    expect(inspect({ 'a.b': 1 })).toBeUndefined();
  });

  it('refuses NUL in a string or a field name, and lone surrogates', () => {
    expect(inspect({ a: { b: 'x\u0000y' } })).toBe('payload.a.b: contains a NUL character (\\u0000), which PostgreSQL cannot store');
    expect(inspect({ 'k\u0000': 1 })).toMatch(/^field name "k\\u0000" at payload contains a NUL/);
    expect(inspect(['\ud800'])).toMatch(/^payload\[0\]: contains a lone UTF-16 surrogate/);
    expect(inspect('\u0000')).toMatch(/^payload: contains a NUL/);
    expect(inspect('😀')).toBeUndefined();
  });

  it('refuses field names the search engines cannot map', () => {
    for (const key of ['', '.', '.a', 'a..b', ' ', 'a. .b']) expect(inspect({ [key]: 1 }), key).toMatch(/empty or blank part/);
  });

  it(`allows ${MAX_NESTING_DEPTH} levels of nesting and refuses one more, however deep, without recursion`, () => {
    expect(inspect(nested(MAX_NESTING_DEPTH))).toBeUndefined();
    expect(inspect(nested(MAX_NESTING_DEPTH + 1))).toMatch(/^nested more than 16 levels deep \(at payload\.a\.a/);
    expect(inspect(JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)))).toMatch(/nested more than 16/);
  });

  it(`counts distinct field paths (dots are paths, array elements share one) up to ${MAX_FIELD_PATHS}`, () => {
    const wide = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, 'v']));
    expect(inspect(wide(MAX_FIELD_PATHS))).toBeUndefined();
    expect(inspect(wide(10_000))).toMatch(/more than 400 distinct fields/);
    // 1,000 rows of the same 3 fields are 4 paths, not 3,000.
    expect(inspect({ rows: Array.from({ length: 1000 }, () => ({ a: 1, b: 2, c: 3 })) })).toBeUndefined();
    expect(inspect(Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`x${i}.y`, 1])))).toMatch(/more than 400/);
  });

  it('refuses numbers that are not finite or beyond ±(2^53 − 1), and keeps the ones within', () => {
    expect(inspect({ n: 1.23e29 })).toMatch(/^payload\.n: number 1\.23e\+29 is beyond ±9007199254740991/);
    expect(inspect({ n: JSON.parse('1e400') as number })).toBe('payload.n: not a finite number');
    expect(inspect({ n: JSON.parse('9007199254740993') as number })).toMatch(/beyond/);
    expect(inspect({ n: -MAX_EXACT_NUMBER, m: MAX_EXACT_NUMBER, f: 0.1, e: 1e-300 })).toBeUndefined();
  });
});

describe('record guard: jsonTextDepth', () => {
  it('counts brackets outside strings, on text or bytes, and stops past the limit', () => {
    expect(jsonTextDepth('{"a":[1,{"b":"[[[{{"}]}')).toBe(3);
    expect(jsonTextDepth(new TextEncoder().encode('[["\\"[["]]'))).toBe(2);
    expect(jsonTextDepth('['.repeat(5000), 16)).toBe(17);
  });
});
