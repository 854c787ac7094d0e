import { describe, expect, it } from 'vitest';
import { compactHeaders, readWireEnvelope, type WireFormat } from '@sluice/shared/envelope-wire';
import { routeFor } from '../../runtime/to-message.ts';
import { FileEnvelopeEncoder, fileEnvelope, type FileEnvelopeOptions } from './file-envelopes.ts';
import type { SplitRecord } from './line-splitter.ts';

const now = '2026-11-23T10:00:00.000Z';
const file = { uid: '0123456789abcdef', path: '/var/log/we"ird \\ päth/app.log' };
const bytes = (offset: number, text: string): SplitRecord => ({ offset, bytes: Buffer.from(text) });

function options(format: 'text' | 'json', partitionKey?: string, wire: WireFormat = 'v2'): FileEnvelopeOptions {
  return { agentId: 'edge-1', sourceId: 'logs', dataset: 'app_logs', format, route: routeFor('app_logs', 'edge-1', { topicPrefix: 'sluice.', partitionKey, wire }) };
}

/**
 * In both wire forms, every message must read back as exactly the envelope the plain object path builds (v2
 * through readWireEnvelope, the consumer's rule), with the same bytes once serialised (object-store segments).
 */
function expectSameAsReference(opts: FileEnvelopeOptions, records: SplitRecord[]): void {
  for (const wire of ['v2', 'v1'] as const) {
    const o = { ...opts, route: { ...opts.route, wire } };
    const messages = new FileEnvelopeEncoder(o).encode(file, records, now);
    expect(messages).toHaveLength(records.length);
    messages.forEach((m, i) => {
      const record = records[i]!;
      const reference = fileEnvelope(o, file, 'bytes' in record ? { offset: record.offset, text: record.bytes.toString() } : record, now);
      const read = readWireEnvelope(m.key.toString(), m.value.toString(), m.headers);
      expect(read).toEqual(reference);
      expect(JSON.stringify(read)).toBe(JSON.stringify(reference));
      if (m.keyed !== true) expect(m.key.toString()).toBe(reference.id);
      expect(m.topic).toBe('sluice.app_logs');
      expect(m.headers).toBe(wire === 'v1' ? o.route.headers : compactHeaders('app_logs', 'edge-1', undefined, { id: 'logs', kind: 'file', path: file.path }));
    });
  }
}

describe('FileEnvelopeEncoder', () => {
  it('copies clean lines as bytes and escapes the others, matching the reference envelope', () => {
    expectSameAsReference(options('text'), [
      bytes(0, 'plain line'),
      bytes(9, 'digits change at 10'),
      bytes(10, ''),
      bytes(123_456_789_012, 'a "quoted" word'),
      bytes(99, 'tab\there and back\\slash'),
      bytes(100, 'ünïcødé ✓ and \u2028 line separator'),
      bytes(200, 'control \u0001 byte'),
      { offset: 300, text: 'multiline\n  continued' },
      { offset: 400, parseError: { reason: 'invalid UTF-8', raw: '/w==', rawEncoding: 'base64' } },
    ]);
  });

  it('embeds valid JSON lines as they are and records invalid ones as parse errors', () => {
    expectSameAsReference(options('json'), [bytes(0, '{"level":"info","n":1}'), bytes(30, '  [1, 2, {"a": null}]  '), bytes(60, '{"broken":'), bytes(80, '"just a string"')]);
  });

  it('a line no store would take (NUL, too deep, 1e400) is a parse error with the guard\'s reason, on both paths', () => {
    const json = [bytes(0, '{"s":"a\\u0000"}'), bytes(20, '['.repeat(5000) + ']'.repeat(5000)), bytes(10_100, '{"n":1e400}'), bytes(10_200, '{"ok":1}')];
    expectSameAsReference(options('json'), json);
    const text = [bytes(0, 'nul \u0000 in a log line'), bytes(30, 'fine')];
    expectSameAsReference(options('text'), text);
    const reasons = (opts: FileEnvelopeOptions, records: SplitRecord[]) =>
      new FileEnvelopeEncoder(opts).encode(file, records, now).map((m) => readWireEnvelope(m.key, m.value, m.headers).parseError?.reason);
    expect(reasons(options('json'), json)).toEqual([
      expect.stringMatching(/^payload\.s: contains a NUL/),
      expect.stringMatching(/^nested more than 16 levels deep/),
      'payload.n: not a finite number',
      undefined,
    ]);
    expect(reasons(options('text'), text)).toEqual([expect.stringMatching(/^payload\.message: contains a NUL/), undefined]);
  });

  it('keys by the partition key field when configured and present, by record id otherwise', () => {
    const opts = options('json', 'user');
    const messages = new FileEnvelopeEncoder(opts).encode(file, [bytes(0, '{"user":"ann","n":1}'), bytes(30, '{"n":2}'), bytes(50, 'not json')], now);
    expect(messages.map((m) => [m.key.toString(), m.keyed === true])).toEqual([
      ['ann', true],
      ['edge-1:logs:f:0123456789abcdef:30', false],
      ['edge-1:logs:f:0123456789abcdef:50', false],
    ]);
    expectSameAsReference(opts, [bytes(0, '{"user":"ann","n":1}'), bytes(30, '{"n":2}'), bytes(50, 'not json')]);
  });

  it('rebuilds its template when the file or its path changes', () => {
    const opts = options('text');
    const encoder = new FileEnvelopeEncoder(opts);
    encoder.encode(file, [bytes(0, 'x')], now);
    const [m] = encoder.encode({ uid: file.uid, path: '/var/log/app.log.1' }, [bytes(5, 'y')], now);
    expect(readWireEnvelope(m!.key, m!.value, m!.headers).source.path).toBe('/var/log/app.log.1');
  });

  it('v2 carries a 200-byte line in its value with only the offset, ingest time and payload; the file in one header', () => {
    const line = 'x'.repeat(200);
    const [v2] = new FileEnvelopeEncoder(options('text')).encode(file, [bytes(123_456, line)], now);
    const [v1] = new FileEnvelopeEncoder(options('text', undefined, 'v1')).encode(file, [bytes(123_456, line)], now);
    expect(v2!.value.toString()).toBe(`{"source":{"offset":123456},"ingestTime":"${now}","payload":{"message":"${line}"}}`);
    expect(v2!.key.toString()).toBe(v1!.key.toString());
    expect(Object.keys(v2!.headers)).toEqual(['dataset', 'envelope']);
    expect(JSON.parse(v2!.headers.envelope!)).toEqual({ v: 2, agentId: 'edge-1', source: { id: 'logs', kind: 'file', path: file.path } });
    expect(v1!.value.length - v2!.value.length).toBeGreaterThan(180);
  });
});
