import { describe, expect, it } from 'vitest';
import { envelopeHeaders, type Envelope } from '@sluice/shared/envelope';
import { compactHeaders, readWireEnvelope } from '@sluice/shared/envelope-wire';
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

  it('keys a parse error by its record id, and carries the one set of envelope headers (v1)', () => {
    const v1 = { ...options, wire: 'v1' as const };
    const m = toMessage(envelope(null, { parseError: { reason: 'bad', raw: '{"device":"d1"' } }), v1);
    expect([m.key, m.keyed]).toEqual(['edge-1:push:r:0', undefined]);
    expect(m.headers).toBe(envelopeHeaders('sensors', 'edge-1'));
    expect(JSON.parse(m.value.toString())).toEqual(envelope(null, { parseError: { reason: 'bad', raw: '{"device":"d1"' } }));
    expect(toMessage(envelope({}, { schemaVersion: 2 }), v1).headers).toBe(envelopeHeaders('sensors', 'edge-1', 2));
  });

  it('v2 (the default): the value holds what differs per record, one header object per source; it reads back whole', () => {
    const keyed = envelope({ device: 'd1', t: 1 }, { schemaVersion: 3, eventTime: '2026-12-02T09:59:00.000Z' });
    const byId = envelope({ n: 1 }, { source: { id: 'push', kind: 'http-push', request: 'r-1' } });
    const [a, b] = [toMessage(keyed, options), toMessage(byId, options)];
    expect(a.headers).toBe(compactHeaders('sensors', 'edge-1', 3, { id: 'push', kind: 'http-push' }));
    expect(b.headers).toBe(compactHeaders('sensors', 'edge-1', undefined, { id: 'push', kind: 'http-push' }));
    // Keyed by the partition key: the id travels in the value; keyed by the id: it does not.
    expect(JSON.parse(a.value.toString())).toEqual({ id: keyed.id, eventTime: keyed.eventTime, ingestTime: keyed.ingestTime, payload: keyed.payload });
    expect(JSON.parse(b.value.toString())).toEqual({ source: { request: 'r-1' }, ingestTime: byId.ingestTime, payload: byId.payload });
    expect(readWireEnvelope(a.key, a.value, a.headers)).toEqual(keyed);
    expect(readWireEnvelope(b.key, b.value, b.headers)).toEqual(byId);
  });

  it('v2 puts what a dropped file shares in its header, keeping the fields in order (same bytes read back)', () => {
    const sha = 'ab'.repeat(32);
    const rows = [0, 1].map((row) => envelope({ n: row }, { id: `edge-1:drop:d:${sha}:${row}`, source: { id: 'drop', kind: 'drop', file: 'in.csv', sha256: sha, row, line: row + 2, format: 'csv' } }));
    const messages = rows.map((e) => toMessage(e, { topicPrefix: 'sluice.' }));
    expect(messages[0]!.headers).toBe(messages[1]!.headers);
    expect(JSON.parse(messages[0]!.headers.envelope!)).toEqual({ v: 2, agentId: 'edge-1', source: { id: 'drop', kind: 'drop', file: 'in.csv', sha256: sha } });
    expect(JSON.parse(messages[1]!.value.toString())).toEqual({ source: { row: 1, line: 3, format: 'csv' }, ingestTime: rows[1]!.ingestTime, payload: { n: 1 } });
    messages.forEach((m, i) => expect(JSON.stringify(readWireEnvelope(m.key, m.value, m.headers))).toBe(JSON.stringify(rows[i])));
    // A shared field after one that differs per record stays in the value: the order is kept.
    const late = envelope({}, { source: { id: 'drop', kind: 'drop', row: 0, file: 'in.csv', sha256: sha } });
    const m = toMessage(late, { topicPrefix: 'sluice.' });
    expect(JSON.parse(m.headers.envelope!)).toEqual({ v: 2, agentId: 'edge-1', source: { id: 'drop', kind: 'drop' } });
    expect(JSON.stringify(readWireEnvelope(m.key, m.value, m.headers))).toBe(JSON.stringify(late));
  });

  it('the file source fast path keys the same way', () => {
    const route = routeFor('sensors', 'edge-1', options);
    const encoder = new FileEnvelopeEncoder({ agentId: 'edge-1', sourceId: 'logs', dataset: 'sensors', format: 'json', route });
    const lines = ['{"device": {"site": "b", "id": 3}}', '{"device":7}'].map((text, i) => ({ offset: i * 100, bytes: Buffer.from(text) }));
    const messages = encoder.encode({ uid: '0123456789abcdef', path: '/var/log/s.log' }, lines, '2026-12-02T10:00:00.000Z');
    expect(messages.map((m) => m.key.toString())).toEqual(['{"id":3,"site":"b"}', '7']);
  });
});
