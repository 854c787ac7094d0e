import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/canonical-json.ts';
import { atPointer, JSON_POINTER_PATTERN, parsePointer } from '../src/json-pointer.ts';

describe('canonicalJson', () => {
  it('gives the same text whatever the key order, at every depth', () => {
    const a = JSON.parse('{"b":1,"a":{"y":[1,{"q":2,"p":1}],"x":"s"}}') as unknown;
    const b = JSON.parse('{"a":{"x":"s","y":[1,{"p":1,"q":2}]},"b":1}') as unknown;
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"s","y":[1,{"p":1,"q":2}]},"b":1}');
  });

  it('keeps values apart that differ only in type or array order', () => {
    expect(canonicalJson({ id: 1 })).not.toBe(canonicalJson({ id: '1' }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson({ a: undefined, b: 2 })).toBe('{"b":2}');
  });
});

describe('JSON pointer (RFC 6901)', () => {
  const doc = { id: 7, 'a/b': { 'm~n': ['x', 'y'] }, nested: { key: 'k' }, '': 'empty' };

  it('follows tokens, unescaping ~1 and ~0, and array indices', () => {
    expect(atPointer(doc, '/id')).toBe(7);
    expect(atPointer(doc, '/a~1b/m~0n/1')).toBe('y');
    expect(atPointer(doc, '/nested/key')).toBe('k');
    expect(atPointer(doc, '/')).toBe('empty');
    expect(atPointer(doc, '')).toBe(doc);
  });

  it('is undefined for missing steps, non-digit indices and inherited properties', () => {
    expect(atPointer(doc, '/nope')).toBeUndefined();
    expect(atPointer(doc, '/a~1b/m~0n/01')).toBeUndefined();
    expect(atPointer(doc, '/a~1b/m~0n/-')).toBeUndefined();
    expect(atPointer(doc, '/nested/toString')).toBeUndefined();
    expect(() => parsePointer('id')).toThrow(/must start with '\/'/);
  });

  it('has a config pattern that accepts pointers and refuses dot paths and bad escapes', () => {
    const re = new RegExp(JSON_POINTER_PATTERN);
    for (const ok of ['/id', '/a/b', '/a~1b', '/m~0n', '/0']) expect(re.test(ok), ok).toBe(true);
    for (const bad of ['', 'id', 'a.b', '/a~2', '/a~']) expect(re.test(bad), bad).toBe(false);
  });
});
