/** Builders for sink tests: datasets and batches shaped like what the consumer hands a sink. */
import { randomBytes } from 'node:crypto';
import type { DatasetSpec, DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import type { SinkBatch, SinkRecord } from '../../src/sinks/sink.ts';

export function uniqueSuffix(): string {
  return randomBytes(4).toString('hex');
}

export function dataset(name: string, schema: Record<string, unknown>, version = 1, sinks: DatasetSpec['sinks'] = {}): DatasetVersion {
  return { spec: { name, sinks }, version, schema };
}

export function envelope(datasetName: string, id: string, payload: unknown, eventTime = '2026-03-01T10:15:00.000Z'): Envelope {
  return {
    id,
    dataset: datasetName,
    agentId: 'agent-1',
    source: { id: 'src-1', kind: 'file' },
    eventTime,
    ingestTime: '2026-03-01T10:15:01.000Z',
    schemaVersion: 1,
    payload,
  };
}

export function batch(ds: DatasetVersion, envelopes: readonly Envelope[], firstOffset = 0n, topic = `sluice.${ds.spec.name}`, partition = 0): SinkBatch {
  const records: SinkRecord[] = envelopes.map((e, i) => ({ envelope: e, topic, partition, offset: firstOffset + BigInt(i) }));
  return { dataset: ds, topic, partition, firstOffset, lastOffset: firstOffset + BigInt(Math.max(0, envelopes.length - 1)), records };
}
