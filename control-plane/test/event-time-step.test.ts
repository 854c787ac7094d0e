import { afterEach, describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { memoryPipeline } from './support/memory-pipeline.ts';
import { envelope, message } from './support/messages.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const step of cleanups.splice(0)) await step();
});

const schema = { type: 'object', properties: { ts: {}, v: { type: 'number' } }, required: ['v'] };
function dataset(eventTime: NonNullable<DatasetVersion['spec']['eventTime']>): DatasetVersion {
  return { spec: { name: 'readings', sinks: { postgres: { enabled: true }, search: { enabled: true } }, eventTime }, version: 1, schema };
}

describe('the consumer takes event time from the payload', () => {
  it('stamps eventTime per the dataset format and keeps ingest time, counted by reason, when it cannot', async () => {
    const ds = dataset({ field: '/ts', format: 'epoch-ms' });
    const { pipeline, pg, search, metrics, dlq } = memoryPipeline(new Map([['readings', ds]]), {}, (...steps) => cleanups.push(...steps));
    const ingest = '2026-03-01T10:00:05.000Z';
    const at = { eventTime: ingest, ingestTime: ingest };
    await pipeline.process([
      message(envelope('readings', 'ok', { ts: Date.UTC(2026, 2, 1, 9, 59, 1, 500), v: 1 }, at)),
      message(envelope('readings', 'text', { ts: String(Date.UTC(2026, 2, 1, 9, 0)), v: 2 }, at)),
      message(envelope('readings', 'missing', { v: 3 }, at)),
      message(envelope('readings', 'garbled', { ts: 'later', v: 4 }, at)),
      message(envelope('readings', 'typed', { ts: [1], v: 5 }, at)),
      // Event time is read before validation: this one is refused for its payload, not for its time.
      message(envelope('readings', 'invalid', { ts: 1 }, at)),
    ]);
    const eventTime = (id: string): string | undefined => pg.records.get(id)?.envelope.eventTime;
    expect(eventTime('ok')).toBe('2026-03-01T09:59:01.500Z');
    expect(eventTime('text')).toBe('2026-03-01T09:00:00.000Z');
    expect(search.records.get('ok')?.envelope.eventTime).toBe('2026-03-01T09:59:01.500Z');
    for (const id of ['missing', 'garbled', 'typed']) expect(eventTime(id)).toBe(ingest);
    expect(dlq.entries.map((e) => e.recordId)).toEqual(['invalid']);
    const counted = (await metrics.registry.getSingleMetric('sluice_event_time_fallbacks_total')!.get()).values;
    expect(Object.fromEntries(counted.map((v) => [v.labels.reason, v.value]))).toEqual({ missing: 1, unparsable: 1, wrong_type: 1 });
  });

  it('leaves eventTime alone for a dataset that names no field', async () => {
    const ds: DatasetVersion = { spec: { name: 'plain', sinks: { postgres: { enabled: true } } }, version: 1, schema: {} };
    const { pipeline, pg } = memoryPipeline(new Map([['plain', ds]]), {}, (...steps) => cleanups.push(...steps));
    await pipeline.process([message(envelope('plain', 'a', { ts: 1 }, { eventTime: '2026-03-01T08:00:00.000Z', ingestTime: '2026-03-01T10:00:00.000Z' }))]);
    expect(pg.records.get('a')?.envelope.eventTime).toBe('2026-03-01T08:00:00.000Z');
  });
});
