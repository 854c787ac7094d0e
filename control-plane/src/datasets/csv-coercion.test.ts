/* eslint-disable @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matchers (expect.stringContaining) are typed any */
import { describe, expect, it } from 'vitest';
import { csvTyping, isCsvRow } from './csv-coercion.ts';
import { ValidatorCache } from './validators.ts';

const schema = {
  type: 'object',
  required: ['station', 'latitude'],
  properties: {
    station: { type: 'string' },
    zip: { type: 'string' },
    latitude: { type: 'number' },
    count: { type: ['integer', 'null'] },
    active: { type: 'boolean' },
    note: { type: ['string', 'null'] },
    level: { $ref: '#/$defs/level' },
    either: { anyOf: [{ type: 'integer' }, { type: 'boolean' }] },
  },
  $defs: { level: { enum: [1, 2, 3] } },
};

describe('CSV typing', () => {
  const type = csvTyping(schema);

  it('types fields by the schema and keeps strings as they are', () => {
    expect(
      type({ station: '0042', zip: '00501', latitude: ' 40.81 ', count: '', active: 'TRUE', note: '', level: '2', either: 'false', extra: '7' }),
    ).toEqual({ ok: true, payload: { station: '0042', zip: '00501', latitude: 40.81, count: null, active: true, note: null, level: 2, either: false, extra: '7' } });
    expect(type({ latitude: '-1e3', count: '5.0', active: 'false' })).toEqual({ ok: true, payload: { latitude: -1000, count: 5, active: false } });
  });

  it('gives a reason naming the field and its value when a value does not convert', () => {
    expect(type({ latitude: 'north', count: '1.5', active: 'yes' })).toEqual({
      ok: false,
      reason: 'CSV field /latitude: "north" is not a number; CSV field /count: "1.5" is not an integer; CSV field /active: "yes" is not a boolean',
    });
    expect(type({ latitude: '' })).toEqual({ ok: false, reason: 'CSV field /latitude: is empty, but must be number' });
    for (const text of ['0x10', 'Infinity', 'NaN', '1e999', '1,5', '12abc']) expect(type({ latitude: text }).ok).toBe(false);
    expect(type({ count: '9007199254740993' })).toMatchObject({ ok: false, reason: expect.stringContaining('beyond ±(2^53 − 1)') });
    expect(type({ latitude: '12345678901234567890' }).ok).toBe(false);
  });

  it('treats columns named like Object.prototype members as columns', () => {
    const typed = csvTyping(JSON.parse('{"properties":{"constructor":{"type":"integer"},"__proto__":{"type":"number"}}}') as Record<string, unknown>);
    const row = JSON.parse('{"constructor":"1","__proto__":"2.5","toString":"x"}') as unknown;
    const result = typed(row);
    expect(result.ok && Object.getPrototypeOf(result.payload)).toBe(Object.prototype);
    expect(result.ok && Object.entries(result.payload as object)).toEqual([['constructor', 1], ['__proto__', 2.5], ['toString', 'x']]);
  });

  it('types a header-less row (an array) by prefixItems and items', () => {
    const typed = csvTyping({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: { type: 'boolean' } });
    expect(typed(['007', '1.5', 'true', 'false'])).toEqual({ ok: true, payload: ['007', 1.5, true, false] });
  });

  it('is used for CSV rows only, then validated as usual', () => {
    const validators = new ValidatorCache();
    const csv = validators.validator('csv', 1, schema, true);
    expect(csv({ station: 's', latitude: '1.5' })).toEqual({ valid: true, payload: { station: 's', latitude: 1.5 } });
    expect(csv({ station: 's' })).toEqual({ valid: false, reason: "/: must have required property 'latitude'" });
    expect(validators.validator('csv', 1, schema)({ station: 's', latitude: '1.5' })).toEqual({ valid: false, reason: '/latitude: must be number' });
  });

  it('knows a CSV row by the source position the drop source writes', () => {
    expect(isCsvRow({ kind: 'drop', format: 'csv', file: 'a.txt' })).toBe(true);
    expect(isCsvRow({ kind: 'drop', format: 'ndjson', file: 'a.csv' })).toBe(false);
    expect(isCsvRow({ kind: 'drop', file: 'old-agent.CSV' })).toBe(true);
    expect(isCsvRow({ kind: 'drop', file: 'a.ndjson' })).toBe(false);
    expect(isCsvRow({ kind: 'http-push', format: 'csv' })).toBe(false);
  });
});
