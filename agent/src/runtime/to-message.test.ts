import { describe, expect, it } from 'vitest';
import { envelopeHeaders, type Envelope } from '@sluice/shared/envelope';
import { FileEnvelopeEncoder } from '../sources/file/file-envelopes.ts';
import { routeFor, toMessage } from './to-message.ts';

const options = { topicPrefix: 'sluice.', partitionKey: 'device' };

function envelope(payload: unknown, extra: Partial<Envelope> = {}): Envelope {
  const now = '2026-12-02T10:00:00.000Z';
  return { id: 'edge-1:push:r:0', dataset: 'sensors', agentId: 'edge-1', source: { id: 'push', kind: 'http-push' }, eventTime: now, ingestTime: now, payload, ...extra };
}

describe('toMessage', () => {
  it('keys by the partition key field with the shared rule: objects by canonical JSON, like the ingest API', () => {
    const keys = [{ device: 'd1' }, { device: 7 }, JSON.parse('{"device":{"site":"b","id":3}}'), JSON.parse('{"device":{"id":3,"site":"b"}}'), { n: 1 }].map((p) => {
      const m = toMessage(envelope(p), options);
      return [m.key, m.keyed === true];
    });
    expect(keys).toEqual([
      ['d1', true],
      ['7', true],
      ['{"id":3,"site":"b"}', true],
      ['{"id":3,"site":"b"}', true],
      ['edge-1:push:r:0', false],
    ]);
  });

  it('keys a parse error by its record id, and carries the one set of envelope headers', () => {
    const m = toMessage(envelope(null, { parseError: { reason: 'bad', raw: '{"device":"d1"' } }), options);
    expect([m.key, m.keyed]).toEqual(['edge-1:push:r:0', undefined]);
    expect(m.headers).toBe(envelopeHeaders('sensors', 'edge-1'));
    expect(toMessage(envelope({}, { schemaVersion: 2 }), options).headers).toBe(envelopeHeaders('sensors', 'edge-1', 2));
  });

  it('the file source fast path keys the same way', () => {
    const route = routeFor('sensors', 'edge-1', options);
    const encoder = new FileEnvelopeEncoder({ agentId: 'edge-1', sourceId: 'logs', dataset: 'sensors', format: 'json', route });
    const lines = ['{"device": {"site": "b", "id": 3}}', '{"device":7}'].map((text, i) => ({ offset: i * 100, bytes: Buffer.from(text) }));
    const messages = encoder.encode({ uid: '0123456789abcdef', path: '/var/log/s.log' }, lines, '2026-12-02T10:00:00.000Z');
    expect(messages.map((m) => m.key.toString())).toEqual(['{"id":3,"site":"b"}', '7']);
  });
});
