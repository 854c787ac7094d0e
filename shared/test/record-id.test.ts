import { describe, expect, it } from 'vitest';
import { recordId } from '../src/record-id.ts';

describe('recordId', () => {
  it('is a pure function of where the record came from', () => {
    expect(recordId.file('edge-1', 'app', 'abc123', 4096)).toBe(recordId.file('edge-1', 'app', 'abc123', 4096));
    expect(recordId.file('edge-1', 'app', 'abc123', 4096)).toBe('edge-1:app:f:abc123:4096');
  });

  it('keeps kinds, agents and positions apart', () => {
    const ids = new Set([
      recordId.file('a', 's', 'x', 0),
      recordId.file('a', 's', 'x', 1),
      recordId.file('b', 's', 'x', 0),
      recordId.drop('a', 's', 'x', 0),
      recordId.poll('a', 's', 'x'),
      recordId.push('a', 's', 'x', 0),
    ]);
    expect(ids.size).toBe(6);
  });

  it('refuses parts that would make ids ambiguous', () => {
    expect(() => recordId.push('a', 's', 'req:1', 0)).toThrow(/contain no ':'/);
    expect(() => recordId.drop('', 's', 'x', 0)).toThrow(/non-empty/);
  });
});
