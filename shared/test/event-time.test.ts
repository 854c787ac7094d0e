import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { datasetSchema } from '../src/dataset.ts';
import { compilePattern, eventTimeReader } from '../src/event-time.ts';

const read = (format: 'rfc3339' | 'epoch-s' | 'epoch-ms' | 'pattern', value: unknown, pattern?: string) =>
  eventTimeReader({ field: '/meta/at', format, ...(pattern === undefined ? {} : { pattern }) })({ meta: { at: value } });

describe('event time from the payload', () => {
  it('reads RFC 3339 with Z, offsets, fractions and a space separator', () => {
    expect(read('rfc3339', '2026-03-01T10:15:30Z')).toEqual({ ms: Date.UTC(2026, 2, 1, 10, 15, 30), iso: '2026-03-01T10:15:30.000Z' });
    expect(read('rfc3339', '2026-03-01T12:15:30.123456+02:00')).toEqual({ ms: Date.UTC(2026, 2, 1, 10, 15, 30, 123), iso: '2026-03-01T10:15:30.123Z' });
    expect(read('rfc3339', '2026-03-01 10:15:30-01:30')).toMatchObject({ iso: '2026-03-01T11:45:30.000Z' });
    expect(read('rfc3339', '2024-02-29T00:00:00Z')).toMatchObject({ iso: '2024-02-29T00:00:00.000Z' });
  });

  it('refuses RFC 3339 look-alikes: no zone, impossible days and hours, other types', () => {
    expect(read('rfc3339', '2026-03-01T10:15:30')).toEqual({ miss: 'unparsable' });
    expect(read('rfc3339', '2026-02-29T10:15:30Z')).toEqual({ miss: 'unparsable' });
    expect(read('rfc3339', '2026-03-01T24:00:00Z')).toEqual({ miss: 'unparsable' });
    expect(read('rfc3339', 'yesterday')).toEqual({ miss: 'unparsable' });
    expect(read('rfc3339', 1_772_360_130)).toEqual({ miss: 'wrong_type' });
  });

  it('reads epoch seconds and milliseconds, as numbers or numeric text', () => {
    const at = Date.UTC(2026, 2, 1, 10, 15, 30, 250);
    expect(read('epoch-s', at / 1000)).toEqual({ ms: at, iso: '2026-03-01T10:15:30.250Z' });
    expect(read('epoch-s', String(at / 1000))).toEqual({ ms: at, iso: '2026-03-01T10:15:30.250Z' });
    expect(read('epoch-ms', at)).toEqual({ ms: at, iso: '2026-03-01T10:15:30.250Z' });
    expect(read('epoch-ms', ` ${at} `)).toEqual({ ms: at, iso: '2026-03-01T10:15:30.250Z' });
    expect(read('epoch-ms', 'soon')).toEqual({ miss: 'unparsable' });
    expect(read('epoch-s', true)).toEqual({ miss: 'wrong_type' });
    expect(read('epoch-s', 1e15)).toEqual({ miss: 'out_of_range' });
    expect(read('epoch-ms', -1e17)).toEqual({ miss: 'out_of_range' });
  });

  it('reads patterns, UTC unless the pattern has an offset', () => {
    expect(read('pattern', '01/03/2026 10:15:30', 'dd/MM/yyyy HH:mm:ss')).toMatchObject({ iso: '2026-03-01T10:15:30.000Z' });
    expect(read('pattern', '2026-03-01 10:15:30.120 +0200', 'yyyy-MM-dd HH:mm:ss.SSS Z')).toMatchObject({ iso: '2026-03-01T08:15:30.120Z' });
    expect(read('pattern', '2026-3-1T9h05', "yyyy-M-d'T'H'h'mm")).toMatchObject({ iso: '2026-03-01T09:05:00.000Z' });
    expect(read('pattern', '20260301', 'yyyyMMdd')).toMatchObject({ iso: '2026-03-01T00:00:00.000Z' });
    expect(read('pattern', '2026-03-01 10:15', 'dd/MM/yyyy HH:mm:ss')).toEqual({ miss: 'unparsable' });
    expect(read('pattern', '31/02/2026 10:15:30', 'dd/MM/yyyy HH:mm:ss')).toEqual({ miss: 'unparsable' });
  });

  it('says missing for an absent, null or empty field, whatever the format', () => {
    const reader = eventTimeReader({ field: '/ts', format: 'epoch-ms' });
    expect(reader({})).toEqual({ miss: 'missing' });
    expect(reader({ ts: null })).toEqual({ miss: 'missing' });
    expect(reader({ ts: '' })).toEqual({ miss: 'missing' });
    expect(reader('not an object')).toEqual({ miss: 'missing' });
  });

  it('refuses patterns it cannot read, and the dataset schema refuses them first', () => {
    expect(() => compilePattern('yyyy-MM-dd QQ')).toThrow(/'Q' is not a token/);
    expect(() => compilePattern('HH:mm')).toThrow(/no year/);
    expect(() => compilePattern('yyyy-MM-dd-dd')).toThrow(/day appears twice/);
    const validate = new Ajv2020({ strict: false }).compile(datasetSchema);
    const spec = (eventTime: unknown) => ({ name: 'd', sinks: {}, eventTime });
    expect(validate(spec({ field: '/ts', format: 'pattern', pattern: 'dd/MM/yyyy' }))).toBe(true);
    expect(validate(spec({ field: '/ts', format: 'pattern' }))).toBe(false);
    expect(validate(spec({ field: '/ts', format: 'pattern', pattern: 'yyyy QQ' }))).toBe(false);
    expect(validate(spec({ field: 'ts', format: 'rfc3339' }))).toBe(false);
  });
});
