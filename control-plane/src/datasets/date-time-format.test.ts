import { describe, expect, it } from 'vitest';
import addFormatsModule from 'ajv-formats';
import { isCommonDateTime } from './date-time-format.ts';
import { createAjv } from './validators.ts';

const reference = (addFormatsModule as unknown as { get: (name: 'date-time') => { validate: (s: string) => boolean } }).get('date-time').validate;

const SAMPLES = [
  '2026-11-23T17:39:39.529Z',
  '2026-11-23T17:39:39Z',
  '2026-11-23T17:39:39.5+01:00',
  '2026-11-23T17:39:39.123456789-23:59',
  '2024-02-29T00:00:00Z',
  '2000-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2023-02-29T00:00:00Z',
  '2026-04-31T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '2026-13-10T00:00:00Z',
  '2026-12-00T00:00:00Z',
  '2026-12-32T00:00:00Z',
  '2026-11-23T24:00:00Z',
  '2026-11-23T23:60:00Z',
  '2026-11-23T23:59:60Z',
  '2026-11-23T23:59:60+00:00',
  '2026-11-23T22:59:60-01:00',
  '2026-11-23T17:39:39.Z',
  '2026-11-23T17:39:39',
  '2026-11-23t17:39:39z',
  '2026-11-23 17:39:39Z',
  '2026-11-23T17:39:39+0100',
  '2026-11-23T17:39:39+01',
  '2026-11-23T17:39:39+24:00',
  '2026-11-23T17:39:39+01:60',
  '2026-11-23T17:39:59.99999999999999999999Z',
  '2026-11-23T17:39:59.9999999999999Z',
  '2026-11-23T17:39:39.529Z ',
  ' 2026-11-23T17:39:39.529Z',
  '2026-11-23T17:39:39.529ZZ',
  '2026-11-23TT17:39:39Z',
  '0000-01-01T00:00:00Z',
  '',
];

/** Random edits of valid strings: the characters that matter to either parser, at every position. */
function mutations(count: number): string[] {
  const alphabet = '0123456789-:.+zZtT \u00a0x';
  const out: string[] = [];
  let seed = 42;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < count; k++) {
    let s = SAMPLES[k % 6]!;
    for (let edits = 1 + Math.floor(random() * 2); edits > 0; edits--) {
      const at = Math.floor(random() * (s.length + 1));
      const c = alphabet[Math.floor(random() * alphabet.length)]!;
      const op = random();
      s = op < 0.4 ? s.slice(0, at) + c + s.slice(at + 1) : op < 0.7 ? s.slice(0, at) + c + s.slice(at) : s.slice(0, at) + s.slice(at + 1);
    }
    out.push(s);
  }
  return out;
}

describe('date-time format', () => {
  it('never accepts what ajv-formats rejects', () => {
    for (const s of [...SAMPLES, ...mutations(200_000)]) {
      if (isCommonDateTime(s)) expect([s, reference(s)]).toEqual([s, true]);
    }
  });

  it('takes the fast path for the shapes agents send', () => {
    expect(SAMPLES.slice(0, 6).every(isCommonDateTime)).toBe(true);
  });

  it('gives ajv the same verdicts as ajv-formats alone', () => {
    const validate = createAjv().compile({ type: 'string', format: 'date-time' });
    for (const s of [...SAMPLES, ...mutations(20_000)]) expect([s, validate(s)]).toEqual([s, reference(s)]);
  });
});
