import { describe, expect, it } from 'vitest';
import { compareSchemas } from '../src/datasets/compatibility.ts';

const v1 = {
  type: 'object',
  required: ['device'],
  properties: {
    device: { type: 'string' },
    temperature: { type: 'number' },
    location: { type: 'object', properties: { lat: { type: 'number' }, lon: { type: 'number' } } },
  },
};

describe('compareSchemas', () => {
  it('accepts an added optional field and names it ADD_COLUMN', () => {
    const v2 = { ...v1, properties: { ...v1.properties, humidity: { type: 'number' } } };
    const report = compareSchemas(v1, v2);
    expect(report.compatible).toBe(true);
    expect(report.changes).toEqual([expect.objectContaining({ type: 'ADD_COLUMN', path: 'humidity', compatible: true })]);
  });

  it('refuses a dropped field (DROP_COLUMN)', () => {
    const { temperature: _dropped, ...rest } = v1.properties;
    const report = compareSchemas(v1, { ...v1, properties: rest });
    expect(report.compatible).toBe(false);
    expect(report.changes).toEqual([expect.objectContaining({ type: 'DROP_COLUMN', path: 'temperature' })]);
  });

  it('refuses a retyped field, nested ones included (CHANGE_TYPE with the path)', () => {
    const v2 = {
      ...v1,
      properties: {
        ...v1.properties,
        temperature: { type: 'string' },
        location: { type: 'object', properties: { lat: { type: 'string' }, lon: { type: 'number' } } },
      },
    };
    const report = compareSchemas(v1, v2);
    expect(report.compatible).toBe(false);
    expect(report.changes.map((c) => [c.type, c.path])).toEqual([
      ['CHANGE_TYPE', 'temperature'],
      ['CHANGE_TYPE', 'location.lat'],
    ]);
    expect(report.changes[0]!.detail).toBe('field temperature changed type from number to string');
  });

  it('refuses making an optional field required and adding a required one', () => {
    const v2 = { ...v1, required: ['device', 'temperature', 'site'], properties: { ...v1.properties, site: { type: 'string' } } };
    const report = compareSchemas(v1, v2);
    expect(report.compatible).toBe(false);
    expect(report.changes).toEqual([
      expect.objectContaining({ type: 'MAKE_REQUIRED', path: 'temperature', compatible: false }),
      expect.objectContaining({ type: 'ADD_COLUMN', path: 'site', compatible: false }),
    ]);
  });

  it('treats an identical schema as compatible with no changes', () => {
    expect(compareSchemas(v1, structuredClone(v1))).toEqual({ compatible: true, changes: [] });
  });
});
