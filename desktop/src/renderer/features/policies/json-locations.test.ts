import { describe, expect, it } from 'vitest';
import { jsonSyntaxErrorAt, locateJsonPaths, locationOf } from './json-locations.ts';

const TEXT = `{
  "sources": [
    {
      "id": "app",
      "include": ["/a", "/b"],
      "multiline": { "startPattern": "x\\"y" }
    }
  ]
}`;

describe('JSON locations', () => {
  it('finds the line and column of every key and array item', () => {
    const at = locateJsonPaths(TEXT);
    expect(at.get('(root)')).toEqual({ line: 1, column: 1 });
    expect(at.get('sources')).toEqual({ line: 2, column: 3 });
    expect(at.get('sources[0]')).toEqual({ line: 3, column: 5 });
    expect(at.get('sources[0].id')).toEqual({ line: 4, column: 7 });
    expect(at.get('sources[0].include[1]')).toEqual({ line: 5, column: 25 });
    expect(at.get('sources[0].multiline.startPattern')).toEqual({ line: 6, column: 22 });
  });

  it('places a path missing from the text at its nearest parent', () => {
    const at = locateJsonPaths(TEXT);
    expect(locationOf(at, 'sources[0].dataset')).toEqual({ line: 3, column: 5 });
    expect(locationOf(at, 'sources[0].multiline.maxLines')?.line).toBe(6);
    expect(locationOf(at, 'kafka')).toEqual({ line: 1, column: 1 });
  });
});

describe('JSON syntax errors', () => {
  it('are placed where the text stops being JSON', () => {
    expect(jsonSyntaxErrorAt('{\n  "sources": [,]\n}')).toEqual({ line: 2, column: 15 });
    expect(jsonSyntaxErrorAt('{\n "a": 1,\n}')).toEqual({ line: 3, column: 1 });
    expect(jsonSyntaxErrorAt('{ "a": tru }')).toEqual({ line: 1, column: 8 });
    expect(jsonSyntaxErrorAt('{ "a": "open')).toEqual({ line: 1, column: 8 });
    expect(jsonSyntaxErrorAt('{} x')).toEqual({ line: 1, column: 4 });
    expect(jsonSyntaxErrorAt(TEXT)).toBeUndefined();
  });
});
