import { describe, expect, it } from 'vitest';
import { MqttRecords, messageKey, type MqttRecordOptions } from './mqtt-records.ts';
import { parseTopicPattern } from './topic-pattern.ts';

const NOW = '2026-12-03T12:00:00.000Z';
const bytes = (text: string): Uint8Array => Buffer.from(text);

function records(options: Partial<MqttRecordOptions> = {}): MqttRecords {
  return new MqttRecords({
    agentId: 'edge-1',
    sourceId: 'sensors',
    dataset: 'readings',
    broker: '127.0.0.1:1883',
    format: 'json',
    patterns: ['site/+site/sensor/+sensor/#'].map(parseTopicPattern),
    maxRecordBytes: 1024 * 1024,
    ...options,
  });
}

describe('mqtt record ids', () => {
  it('are the same for a redelivery and differ by broker, topic and content', () => {
    const r = records();
    const one = r.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":21.5}') }, NOW);
    const again = r.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":21.5}') }, '2026-12-03T13:00:00.000Z');
    expect(again.id).toBe(one.id);
    expect(one.id).toMatch(/^edge-1:sensors:m:[0-9a-f]{32}$/);
    expect(r.envelope({ topic: 'site/b/sensor/t2', payload: bytes('{"c":21.5}') }, NOW).id).not.toBe(one.id);
    expect(r.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":21.6}') }, NOW).id).not.toBe(one.id);
    expect(records({ broker: 'other:1883' }).envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":21.5}') }, NOW).id).not.toBe(one.id);
    // The parts are length-safe: moving a byte between topic and payload is another message.
    expect(messageKey('b:1', 'a', { kind: 'content', payload: bytes('bc') })).not.toBe(messageKey('b:1', 'ab', { kind: 'content', payload: bytes('c') }));
  });

  it('come from idField or the idProperty user property when the publisher sets a message id', () => {
    const byField = records({ idField: '/msgId' });
    const a = byField.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"msgId":7,"c":1}') }, NOW);
    const b = byField.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":2,"msgId":7}') }, NOW);
    expect(b.id).toBe(a.id);
    const missing = byField.envelope({ topic: 'site/b/sensor/t1', payload: bytes('{"c":2}') }, NOW);
    expect(missing.parseError?.reason).toMatch(/idField \/msgId is missing/);

    const byProperty = records({ idProperty: 'message-id' });
    const p1 = byProperty.envelope({ topic: 'x', payload: bytes('1'), userProperties: { 'message-id': 'm-1' } }, NOW);
    const p2 = byProperty.envelope({ topic: 'x', payload: bytes('2'), userProperties: { 'message-id': ['m-1', 'm-9'] } }, NOW);
    const content = byProperty.envelope({ topic: 'x', payload: bytes('1') }, NOW);
    expect(p2.id).toBe(p1.id);
    expect(content.id).not.toBe(p1.id);
  });
});

describe('mqtt payloads', () => {
  it('json: parsed, topic levels and the topic added as fields the payload does not have', () => {
    const e = records({ topicField: 'topic' }).envelope({ topic: 'site/berlin/sensor/t1/x', payload: bytes('{"c":21.5,"site":"own"}') }, NOW);
    expect(e.payload).toEqual({ c: 21.5, site: 'own', sensor: 't1', topic: 'site/berlin/sensor/t1/x' });
    expect(e.source).toMatchObject({ kind: 'mqtt', broker: '127.0.0.1:1883', topic: 'site/berlin/sensor/t1/x' });
    expect(records().envelope({ topic: 'site/b/sensor/t1', payload: bytes('[1,2]') }, NOW).payload).toEqual([1, 2]);
  });

  it('json: what does not parse is a parse error with the raw payload (base64 when not UTF-8)', () => {
    const bad = records().envelope({ topic: 't', payload: bytes('{broken') }, NOW);
    expect(bad.payload).toBeNull();
    expect(bad.parseError).toMatchObject({ raw: '{broken', rawEncoding: 'utf8' });
    expect(bad.parseError?.reason).toMatch(/payload is not JSON/);
    const binary = records().envelope({ topic: 't', payload: Uint8Array.from([0xff, 0xfe, 0x00]) }, NOW);
    expect(binary.parseError).toMatchObject({ raw: '//4A', rawEncoding: 'base64' });
  });

  it('text and binary formats', () => {
    const text = records({ format: 'text' }).envelope({ topic: 'site/b/sensor/t1', payload: bytes('hello') }, NOW);
    expect(text.payload).toEqual({ message: 'hello', site: 'b', sensor: 't1' });
    const notText = records({ format: 'text' }).envelope({ topic: 't', payload: Uint8Array.from([0xc3]) }, NOW);
    expect(notText.parseError?.reason).toMatch(/not valid UTF-8/);
    const nul = records({ format: 'text' }).envelope({ topic: 't', payload: bytes('a\u0000b') }, NOW);
    expect(nul.parseError).toBeDefined();
    const bin = records({ format: 'binary' }).envelope({ topic: 't', payload: Uint8Array.from([0, 1, 2, 255]) }, NOW);
    expect(bin.payload).toEqual({ data: 'AAEC/w==' });
  });

  it('an oversized record keeps its id and becomes a parse error with the payload cut', () => {
    const r = records({ maxRecordBytes: 5000 });
    const payload = bytes(JSON.stringify({ big: 'x'.repeat(10_000) }));
    const e = r.envelope({ topic: 't', payload }, NOW);
    const cut = r.oversized(e, payload, 10_100);
    expect(cut.id).toBe(e.id);
    expect(cut.payload).toBeNull();
    expect(cut.parseError?.reason).toMatch(/over maxRecordBytes \(5000\)/);
    expect(cut.parseError!.raw.length).toBeLessThan(5000);
  });
});
