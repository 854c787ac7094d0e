import { describe, expect, it } from 'vitest';
import { readSchemaText, schemaFields, sinkRows, sinksSummary } from './dataset-view.ts';

describe('dataset view', () => {
  it('names where each store keeps the records, defaults applied', () => {
    const rows = sinkRows({ name: 'weather', sinks: { postgres: { enabled: true, table: 'wx' }, search: { enabled: true }, objectStore: { enabled: false, partitionBy: 'hour' } } });
    expect(rows).toEqual([
      { store: 'postgres', enabled: true, location: 'table wx', details: '' },
      { store: 'search', enabled: true, location: 'indices sluice-weather-YYYY.MM.DD', details: '' },
      { store: 'objectStore', enabled: false, location: '', details: '' },
    ]);
    expect(sinkRows({ name: 'w', sinks: { objectStore: { enabled: true, prefix: 'lake/w/', partitionBy: 'hour' } } })[2]).toEqual({ store: 'objectStore', enabled: true, location: 'lake/w/dt=…/', details: 'hourly partitions, gzip NDJSON' });
    expect(sinksSummary({ name: 'w', sinks: { search: { enabled: true } } })).toBe('Search');
    expect(sinksSummary({ name: 'w', sinks: {} })).toBe('none');
  });

  it('lists the schema fields by name, nested ones as dotted paths below their parent, with their types', () => {
    const fields = schemaFields({
      type: 'object',
      required: ['id', 'toString'],
      properties: { id: { type: ['string', 'null'] }, kind: { enum: ['a', 'b'] }, at: { $ref: '#/$defs/time' }, pos: { type: 'object', required: ['x'], properties: { x: { type: 'number' } } }, free: true },
    });
    expect(fields.map((f) => [f.path, f.type, f.required])).toEqual([
      ['at', '#/$defs/time', false],
      ['free', 'any', false],
      ['id', 'string | null', true],
      ['kind', 'one of "a", "b"', false],
      ['pos', 'object', false],
      ['pos.x', 'number', true],
    ]);
    expect(schemaFields({ type: 'object' })).toEqual([]);
  });

  it('reads the editor text as a JSON object, or says why not', () => {
    expect(readSchemaText('{"type":"object"}')).toEqual({ ok: true, schema: { type: 'object' } });
    const problemOf = (text: string) => {
      const read = readSchemaText(text);
      return read.ok ? 'no problem' : read.problem;
    };
    expect(problemOf('[1]')).toMatch(/^A schema is a JSON object/);
    expect(problemOf('{')).toMatch(/^Not valid JSON: /);
  });
});
