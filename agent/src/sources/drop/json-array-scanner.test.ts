import { describe, expect, it } from 'vitest';
import { JsonArrayError, JsonArrayScanner, type ArrayElement } from './json-array-scanner.ts';

/** Feeds `text` cut at `cuts` (byte offsets) and returns the elements' texts, or the error. */
function scan(text: string, cuts: number[] = [], maxElementBytes = 1 << 20): { elements: ArrayElement[]; kind: string } {
  const bytes = Buffer.from(text);
  const scanner = new JsonArrayScanner({ collect: true, maxElementBytes });
  const elements: ArrayElement[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    elements.push(...scanner.push(bytes.subarray(from, cut)));
    from = cut;
  }
  scanner.end();
  return { elements, kind: scanner.kind };
}

const texts = (elements: ArrayElement[]): unknown[] => elements.map((e) => JSON.parse(e.bytes.toString('utf8')) as unknown);

describe('JsonArrayScanner', () => {
  const tricky = '\uFEFF [ {"a":"x,]}\\"[{"}, [1,[2,{"b":"\\\\"}]], "é€😀", -1.5e3 ,null,true , {}\n, [] ]  \n';

  it('finds each element of an array, with strings, escapes and nesting, exactly as JSON.parse does', () => {
    const whole = JSON.parse(tricky.slice(1)) as unknown[];
    expect(texts(scan(tricky).elements)).toEqual(whole);
  });

  it('gives the same elements wherever the chunks are cut (inside strings, escapes, multi-byte characters)', () => {
    const whole = JSON.parse(tricky.slice(1)) as unknown[];
    const length = Buffer.byteLength(tricky);
    for (let cut = 1; cut < length; cut++) expect(texts(scan(tricky, [cut]).elements), `cut at ${cut}`).toEqual(whole);
    expect(texts(scan(tricky, Array.from({ length: length - 1 }, (_, i) => i + 1)).elements)).toEqual(whole);
  });

  it('reports the line each element starts on', () => {
    expect(scan('[\n{"a":1},\n\n{"a":\n2}]').elements.map((e) => e.line)).toEqual([2, 4]);
  });

  it('takes an empty array, and says when the file is not an array at all', () => {
    expect(scan(' [ ] ').elements).toEqual([]);
    expect(scan('{"a":[1,2]}').kind).toBe('not-array');
    expect(scan('"text"').kind).toBe('not-array');
  });

  it('leaves a malformed element to its parser: the scan goes on past it', () => {
    const elements = scan('[{"a":tru}, {"b":1} {"c":2}, 3]').elements.map((e) => e.bytes.toString('utf8').trim());
    expect(elements).toEqual(['{"a":tru}', '{"b":1} {"c":2}', '3']);
  });

  it.each([
    ['[1,2', /line 1: the file ends before the array is closed/],
    ['[1,"abc', /the file ends inside a string/],
    ['[1,2,]', /a value is missing before "\]"/],
    ['[,1]', /a value is missing before ","/],
    ['[1,,2]', /a value is missing before ","/],
    ['[1]\n{"a":1}', /line 2: data after the closing "\]"/],
    ['[1}]', /a "}" with no "{"/],
    ['', /./],
  ])('refuses the broken array %j', (text, reason) => {
    if (text === '') {
      // An empty file is no JSON value at all: neither an array nor anything else.
      expect(scan(text).kind).toBe('unknown');
      return;
    }
    expect(() => scan(text)).toThrow(reason);
    expect(() => scan(text)).toThrow(JsonArrayError);
  });

  it('names the byte offset of the problem', () => {
    try {
      scan('[1,2,]');
      expect.unreachable();
    } catch (error) {
      expect((error as JsonArrayError).position).toBe(5);
    }
  });

  it('keeps at most maxElementBytes of an element, and says how big it was', () => {
    const big = `"${'x'.repeat(100)}"`;
    const [element, next] = scan(`[${big},1]`, [10, 50], 16).elements;
    expect(element?.size).toBe(102);
    expect(element?.bytes.toString()).toBe(big.slice(0, 16));
    expect(next?.bytes.toString()).toBe('1');
  });

  it('keeps no bytes when only validating', () => {
    const scanner = new JsonArrayScanner({ collect: false, maxElementBytes: 0 });
    const [element] = scanner.push(Buffer.from('[{"a":1}]'));
    scanner.end();
    expect(element?.bytes.length).toBe(0);
    expect(element?.size).toBe(7);
  });
});

describe('JsonArrayScanner nesting depth', () => {
  it('counts each element\u2019s deepest nesting as jsonTextDepth does, brackets inside strings not counted', async () => {
    const { jsonTextDepth } = await import('@sluice/shared/record-guard');
    const items = ['1', '{"a":"[[[["}', '[[1],[[2]]]', '{"a":{"b":{"c":[]}}}'];
    const elements = scan(`[${items.join(',')}]`, [5, 17]).elements;
    expect(elements.map((e) => e.depth)).toEqual(items.map((item) => jsonTextDepth(item)));
  });
});
