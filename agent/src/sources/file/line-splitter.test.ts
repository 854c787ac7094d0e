import { describe, expect, it } from 'vitest';
import { LineSplitter, type SplitRecord } from './line-splitter.ts';

function feed(splitter: LineSplitter, ...chunks: (string | Buffer)[]): SplitRecord[] {
  const out: SplitRecord[] = [];
  for (const c of chunks) splitter.push(typeof c === 'string' ? Buffer.from(c) : c, out);
  return out;
}

describe('LineSplitter', () => {
  it('splits lines across chunks with their byte offsets and strips CR', () => {
    const s = new LineSplitter({ maxLineBytes: 100 }, { offset: 0 });
    expect(feed(s, 'ab\ncd', 'e\r\nfé\n', 'tail')).toEqual([
      { offset: 0, text: 'ab' },
      { offset: 3, text: 'cde' },
      { offset: 8, text: 'fé' },
    ]);
    expect(s.safeOffset).toBe(12);
    expect(s.position).toBe(16);
    expect(s.flushAll()).toEqual([{ offset: 12, text: 'tail' }]);
  });

  it('starts at a checkpoint offset', () => {
    const s = new LineSplitter({ maxLineBytes: 100 }, { offset: 1000 });
    expect(feed(s, 'x\ny\n')).toEqual([{ offset: 1000, text: 'x' }, { offset: 1002, text: 'y' }]);
    expect(s.safeOffset).toBe(1004);
  });

  it('turns a line over maxLineBytes into one parseError record and skips the rest to the newline', () => {
    const s = new LineSplitter({ maxLineBytes: 64 }, { offset: 0 });
    const long = 'L'.repeat(200);
    const out = feed(s, 'ok\n', long.slice(0, 50), long.slice(50, 150));
    expect(out[0]).toEqual({ offset: 0, text: 'ok' });
    expect(out[1]).toMatchObject({ offset: 3, parseError: { raw: 'L'.repeat(64), rawEncoding: 'utf8' } });
    expect(s.skipping).toBe(true);
    expect(s.safeOffset).toBe(153); // the skipped bytes are accounted for: a restart does not re-emit them
    expect(feed(s, long.slice(150) + '\nnext\n')).toEqual([{ offset: 204, text: 'next' }]);
    const inOne = new LineSplitter({ maxLineBytes: 64 }, { offset: 0 });
    const records = feed(inOne, `${long}\nafter\n`);
    expect(records).toHaveLength(2);
    expect(records[1]).toEqual({ offset: 201, text: 'after' });
  });

  it('resumes in skipping mode from a checkpoint taken inside a long line', () => {
    const s = new LineSplitter({ maxLineBytes: 64 }, { offset: 500, skipping: true });
    expect(feed(s, 'rest of the long line\nnext\n')).toEqual([{ offset: 522, text: 'next' }]);
  });

  it('keeps invalid UTF-8 as a parseError record with base64 raw bytes', () => {
    const s = new LineSplitter({ maxLineBytes: 100 }, { offset: 0 });
    const bad = Buffer.from([0x61, 0xff, 0xfe, 0x62]);
    const out = feed(s, Buffer.concat([bad, Buffer.from('\ngood\n')]));
    expect(out[0]).toEqual({ offset: 0, parseError: { reason: 'invalid UTF-8', raw: bad.toString('base64'), rawEncoding: 'base64' } });
    expect(out[1]).toEqual({ offset: 5, text: 'good' });
  });

  it('groups multiline events by start pattern, bounded by maxLines, and checkpoints at the event start', () => {
    const s = new LineSplitter({ maxLineBytes: 100, multiline: { startPattern: /^\d{4}-/, maxLines: 3 } }, { offset: 0 });
    const out = feed(s, '2024-01 a\n  at x\n  at y\n2024-02 b\n  at z\n');
    expect(out).toEqual([{ offset: 0, text: '2024-01 a\n  at x\n  at y' }]);
    expect(s.hasPendingEvent).toBe(true);
    expect(s.safeOffset).toBe(24);
    expect(s.flushEvent()).toEqual([{ offset: 24, text: '2024-02 b\n  at z' }]);
    expect(s.safeOffset).toBe(41);
    const capped = new LineSplitter({ maxLineBytes: 100, multiline: { startPattern: /^S/, maxLines: 2 } }, { offset: 0 });
    expect(feed(capped, 'S1\nc\nc\nc\n').map((r) => ('text' in r ? r.text : r))).toEqual(['S1\nc', 'c\nc']); // continuation past maxLines starts a new event: nothing is lost
  });
});
