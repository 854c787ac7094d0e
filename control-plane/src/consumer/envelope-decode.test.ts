import { describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, envelopeHeaders, type Envelope } from '@sluice/shared/envelope';
import { toCompact } from '@sluice/shared/envelope-wire';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { ValidatorCache } from '../datasets/validators.ts';
import { originalMessage } from '../dlq/dlq-rows.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { BatchLookups } from './batch-lookups.ts';
import { reasonKind } from './dead-letters.ts';
import { RecordIntake } from './record-intake.ts';

const logs: DatasetVersion = {
  spec: { name: 'app_logs', sinks: { postgres: { enabled: true } } },
  version: 1,
  schema: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
};

const now = '2026-12-03T18:00:00.000Z';
const fileLine = (offset: number, message: unknown): Envelope => ({
  id: `edge-1:logs:f:0123456789abcdef:${offset}`,
  dataset: 'app_logs',
  agentId: 'edge-1',
  source: { id: 'logs', kind: 'file', path: '/var/log/app.log', offset },
  eventTime: now,
  ingestTime: now,
  payload: { message },
});

let offset = 0n;
function kafkaMessage(key: string | undefined, value: string, headers: Readonly<Record<string, string>>): IncomingMessage {
  return { topic: 'sluice.app_logs', partition: 0, offset: offset++, key, value: Buffer.from(value), headers: { ...headers }, timestamp: 0n };
}
const v1 = (e: Envelope): IncomingMessage => kafkaMessage(e.id, JSON.stringify(e), envelopeHeaders(e.dataset, e.agentId, e.schemaVersion));
function v2(e: Envelope, keyedBy?: string): IncomingMessage {
  const { value, headers } = toCompact(e, keyedBy === undefined);
  return kafkaMessage(keyedBy ?? e.id, value, headers);
}

async function take(messages: IncomingMessage[]) {
  const intake = new RecordIntake({ maxRecordBytes: 1 << 20, metrics: new ControlPlaneMetrics() });
  const lookups = new BatchLookups({ latest: (name: string) => Promise.resolve(name === 'app_logs' ? logs : undefined) }, new ValidatorCache(), (_what, operation) => operation());
  return intake.take(messages, lookups);
}

describe('envelope decode (v1 and v2)', () => {
  it('a line decodes to the same record, id and bytes, from v1 and from v2 (keyed by id or by a partition key)', async () => {
    const line = fileLine(4096, 'GET /index.html 200 "ok" ü');
    const { groups, dead } = await take([v1(line), v2(line), v2(line, 'some-partition-key')]);
    expect(dead).toEqual([]);
    const records = groups.flatMap((g) => g.records.map((r) => r.envelope));
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect(r).toEqual(line);
      expect(JSON.stringify(r)).toBe(JSON.stringify(records[0]));
    }
  });

  it('keeps a schema version, a differing event time, a parse error and other sources whole', async () => {
    const pushed: Envelope = { ...fileLine(0, 'x'), id: 'edge-1:push:h:req-1:0', source: { id: 'push', kind: 'http-push' }, eventTime: '2026-12-03T17:59:00.000Z', schemaVersion: 1 };
    const broken: Envelope = { ...fileLine(10, 'x'), payload: null, parseError: { reason: 'invalid UTF-8', raw: '/w==', rawEncoding: 'base64' } };
    const { groups, dead } = await take([v2(pushed), v2(broken)]);
    expect(groups.flatMap((g) => g.records.map((r) => r.envelope))).toEqual([pushed]);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.reason).toBe('could not be parsed at the source: invalid UTF-8');
    // Dead-lettered after it decoded: the entry names the record id, keeps the headers and the original bytes.
    expect(dead[0]!.recordId).toBe(broken.id);
    expect(dead[0]!.headers[KAFKA_HEADERS.envelope]).toBeDefined();
  });

  it('a dead-lettered v2 record replays (key = record id, original bytes and headers) to the same record', async () => {
    const line = fileLine(77, 42); // the schema wants a string: dead-lettered
    const { dead } = await take([v2(line)]);
    expect(dead[0]!.reason).toMatch(/^does not match schema version 1 of app_logs/);
    const entry = dead[0]!;
    const row = { topic: entry.topic, partition: entry.partition, offset: String(entry.offset), record_id: entry.recordId ?? null, original: entry.original, headers: entry.headers };
    const replayed = await take([{ ...originalMessage(row), value: Buffer.from(entry.original.toString().replace('42', '"42"')) }]);
    expect(replayed.dead).toEqual([]);
    expect(replayed.groups[0]!.records[0]!.envelope).toEqual({ ...line, payload: { message: '42' } });
  });

  it('a dropped blob in v2: its chunks (with the envelope headers) go to the blob steps, its closing envelope decodes whole', async () => {
    const sha = 'b'.repeat(64);
    const closing: Envelope = {
      ...fileLine(0, 'cam'),
      id: `edge-1:drop:d:${sha}:0`,
      source: { id: 'drop', kind: 'drop', file: 'f.bin', sha256: sha, row: 0 },
      blob: { key: 'f.bin', size: 11, sha256: sha, contentType: 'application/octet-stream', chunks: 1 },
    };
    const head = v2(closing);
    const chunk = kafkaMessage(head.key, 'chunk-bytes', {
      ...head.headers,
      [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk,
      [KAFKA_HEADERS.blobSha256]: sha,
      [KAFKA_HEADERS.blobChunk]: '0',
      [KAFKA_HEADERS.blobChunks]: '1',
    });
    const { blobSteps, dead } = await take([chunk, head]);
    expect(dead).toEqual([]);
    expect(blobSteps.map((b) => b.kind)).toEqual(['chunk', 'complete']);
    expect(blobSteps[1]).toMatchObject({ kind: 'complete', envelope: closing });
  });

  it('refuses malformed v2 messages for good, with a reason that says what is wrong', async () => {
    const line = fileLine(1, 'x');
    const good = v2(line);
    const context = (c: string) => kafkaMessage(line.id, good.value.toString(), { ...good.headers, [KAFKA_HEADERS.envelope]: c });
    const cases: Array<[IncomingMessage, RegExp]> = [
      [context('{"v":2,'), /^not a Sluice envelope: the envelope header is not JSON/],
      [context('{"v":3,"agentId":"edge-1","source":{"id":"logs","kind":"file"}}'), /^not a Sluice envelope: the envelope header names version 3; this control plane reads versions 1 and 2$/],
      [context('{"v":2,"source":{"id":"logs","kind":"file"}}'), /^not a Sluice envelope: the envelope header: .*agentId/],
      [context('{"v":2,"agentId":"edge-1","source":{"id":"logs","kind":"tape"}}'), /^not a Sluice envelope: the envelope header: \/source\/kind/],
      [kafkaMessage(line.id, good.value.toString(), { [KAFKA_HEADERS.envelope]: good.headers[KAFKA_HEADERS.envelope]! }), /^not a Sluice envelope: a version 2 message without a dataset header$/],
      [kafkaMessage(line.id, '{"ingestTime":', good.headers), /^not a Sluice envelope: .*JSON/],
      [kafkaMessage(line.id, '{"payload":{"message":"x"}}', good.headers), /^not a Sluice envelope: .*ingestTime/],
      [kafkaMessage(line.id, `{"source":{"kind":"api"},"ingestTime":"${now}","payload":{}}`, good.headers), /^not a Sluice envelope: \/source/],
      [kafkaMessage(undefined, good.value.toString(), good.headers), /^not a Sluice envelope: a version 2 message without a record id/],
    ];
    const { dead, groups } = await take(cases.map(([m]) => m));
    expect(groups).toEqual([]);
    expect(dead.map((d) => d.reason)).toEqual(cases.map(([, reason]): unknown => expect.stringMatching(reason)));
    for (const d of dead) expect(reasonKind(d.reason)).toBe('not_envelope');
    // The record id a replay needs: the key (the value names none).
    expect(dead.map((d) => d.recordId)).toEqual([...Array<string>(8).fill(line.id), undefined]);
  });
});
