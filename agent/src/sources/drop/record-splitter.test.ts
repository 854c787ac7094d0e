import { describe, expect, it } from 'vitest';
import { RecordSplitter } from './record-splitter.ts';

const split = (chunks: string[], quote: string | undefined = '"', max = 1000) => {
  const s = new RecordSplitter({ ...(quote === undefined ? {} : { quote }), maxRecordChars: max });
  return [...chunks.flatMap((c) => s.push(c)), ...s.end()];
};

describe('RecordSplitter', () => {
  it('keeps newlines inside quotes and handles CRLF and a BOM, across chunk boundaries', () => {
    expect(split(['\ufeffa,b\r\n"x\n', 'y",2\r\n3,4'])).toEqual([
      { text: 'a,b', line: 1 },
      { text: '"x\ny",2', line: 2 },
      { text: '3,4', line: 4 },
    ]);
  });

  it('a stray quote costs one line, the rows after it flow on', () => {
    expect(split(['a,b\n"open,1\n2,3\n4,5\n'])).toEqual([
      { text: 'a,b', line: 1 },
      { text: '"open,1', line: 2, error: 'quote not closed' },
      { text: '2,3', line: 3 },
      { text: '4,5', line: 4 },
    ]);
  });

  it('gives up on a quote that stays open longer than a record may be', () => {
    const out = split(['"x\n', 'y'.repeat(50), '\nz\n'], '"', 20);
    expect(out[0]).toEqual({ text: '"x', line: 1, error: 'quote not closed' });
    expect(out[1]?.error).toMatch(/over the limit of 20/);
    expect(out[2]).toEqual({ text: 'z', line: 3 });
  });

  it('truncates an over-long line and says so', () => {
    const [one] = split(['x'.repeat(30) + '\n'], undefined, 10);
    expect(one).toEqual({ text: 'x'.repeat(10), line: 1, error: 'record of 30 characters is over the limit of 10; raw text truncated' });
  });
});
