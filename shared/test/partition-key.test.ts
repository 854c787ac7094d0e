import { describe, expect, it } from 'vitest';
import { CONTENT_TYPES, envelopeHeaders } from '../src/envelope.ts';
import { partitionKeyOf } from '../src/partition-key.ts';

describe('partitionKeyOf', () => {
  it('keys strings as themselves and numbers and booleans as their JSON text', () => {
    expect(partitionKeyOf({ user: 'ann' }, 'user')).toBe('ann');
    expect(partitionKeyOf({ user: '' }, 'user')).toBe('');
    expect(partitionKeyOf({ user: 42 }, 'user')).toBe('42');
    expect(partitionKeyOf({ user: 1.5 }, 'user')).toBe('1.5');
    expect(partitionKeyOf({ user: false }, 'user')).toBe('false');
  });

  it('keys objects and arrays by their canonical JSON, so key order and spacing do not split one value', () => {
    const a = JSON.parse('{"device": {"site": "b", "id": 3}}') as unknown;
    const b = JSON.parse('{"device":{"id":3,"site":"b"}}') as unknown;
    expect(partitionKeyOf(a, 'device')).toBe('{"id":3,"site":"b"}');
    expect(partitionKeyOf(b, 'device')).toBe('{"id":3,"site":"b"}');
    expect(partitionKeyOf({ tags: ['x', { z: 1, y: 2 }] }, 'tags')).toBe('["x",{"y":2,"z":1}]');
  });

  it('has no key when no field is configured, the field is missing or null, or the payload is not an object', () => {
    expect(partitionKeyOf({ user: 'ann' }, undefined)).toBeUndefined();
    expect(partitionKeyOf({ n: 1 }, 'user')).toBeUndefined();
    expect(partitionKeyOf({ user: null }, 'user')).toBeUndefined();
    expect(partitionKeyOf(['ann'], '0')).toBeUndefined();
    expect(partitionKeyOf('ann', 'length')).toBeUndefined();
    expect(partitionKeyOf(null, 'user')).toBeUndefined();
    // Inherited properties are not fields of the record.
    expect(partitionKeyOf({}, 'constructor')).toBeUndefined();
    expect(partitionKeyOf({}, 'toString')).toBeUndefined();
  });
});

describe('envelopeHeaders', () => {
  it('repeats dataset, schema version, agent and content type', () => {
    expect(envelopeHeaders('app_logs', 'edge-1', 3)).toEqual({ dataset: 'app_logs', 'schema-version': '3', 'agent-id': 'edge-1', 'content-type': CONTENT_TYPES.envelope });
    expect(envelopeHeaders('app_logs', 'edge-1')).toEqual({ dataset: 'app_logs', 'agent-id': 'edge-1', 'content-type': CONTENT_TYPES.envelope });
  });

  it('is one frozen object per dataset, agent and version, so producers encode it once', () => {
    const headers = envelopeHeaders('app_logs', 'edge-1', 3);
    expect(envelopeHeaders('app_logs', 'edge-1', 3)).toBe(headers);
    expect(Object.isFrozen(headers)).toBe(true);
    expect(envelopeHeaders('app_logs', 'edge-1', 4)).not.toBe(headers);
    expect(envelopeHeaders('app_logs', 'edge-1')).not.toBe(headers);
  });
});
