import { afterEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { KafkaConsumer } from '@sluice/shared/node/kafka';
import { CONTENT_TYPES, KAFKA_HEADERS } from '@sluice/shared/envelope';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ok, retryable, type Outcome } from '@sluice/shared/outcome';
import { ConsumerLoop } from '../src/consumer/consumer-loop.ts';
import { PartitionOffsets } from '../src/consumer/partition-offsets.ts';
import { type Pipeline, type PipelineOptions } from '../src/consumer/pipeline.ts';
import { type ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import { FakeKafka } from './support/fake-kafka.ts';
import { memoryPipeline } from './support/memory-pipeline.ts';
import { envelope, message } from './support/messages.ts';

const logger = createLogger('test', { level: 'silent' });
const dataset = (name: string, sinks: DatasetVersion['spec']['sinks']): DatasetVersion => ({ spec: { name, sinks }, version: 1, schema: { type: 'object' } });
/** `stuck` and `healthy` share the postgres sink; `searched` also writes to search. */
const datasets = new Map([
  ['stuck', dataset('stuck', { postgres: { enabled: true } })],
  ['healthy', dataset('healthy', { postgres: { enabled: true } })],
  ['searched', dataset('searched', { search: { enabled: true } })],
]);

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function setup(options: Partial<PipelineOptions> = {}) {
  return memoryPipeline(datasets, { retry: { minDelayMs: 2, maxDelayMs: 10 }, breaker: { resetTimeoutMs: 30 }, unclassified: { attempts: 3, windowMs: 40 }, ...options }, (...steps) => cleanup.push(...steps));
}

/** `n` records of a dataset on its topic, ids `<ds>-<partition>-<from + i>`. */
const records = (ds: string, n: number, partition = 0, from = 0) =>
  Array.from({ length: n }, (_, i) => message(envelope(ds, `${ds}-${partition}-${from + i}`, { i }), { topic: `sluice.${ds}`, partition, offset: BigInt(i) }));

async function gauge(metrics: ControlPlaneMetrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const values = (await metrics.registry.getSingleMetric(name)!.get()).values;
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe('Pipeline: unclassified sink errors are bounded, outages are waited out', () => {
  it('dead-letters a batch its sink keeps failing with an unclassified error, after the budget, with the error', async () => {
    const { pipeline, pg, dlq } = setup();
    pg.mode = { kind: 'unclassified', reason: 'object-store: writing: XMinioInvalidResourceName: Resource name contains bad components such as ".." or "."' };
    const started = Date.now();
    const result = await pipeline.process(records('stuck', 2));
    expect(pg.writes).toBeGreaterThanOrEqual(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
    expect(dlq.entries.map((e) => [e.recordId, e.dataset])).toEqual([
      ['stuck-0-0', 'stuck'],
      ['stuck-0-1', 'stuck'],
    ]);
    expect(dlq.entries[0]!.reason).toMatch(/^sink postgres kept failing with an error it does not classify: object-store: writing: XMinioInvalidResourceName: .* \(\d+ attempts over \d+ s\)/);
    expect(result.counts.get('stuck')).toEqual({ ingested: 0, failed: 2 });
    expect(result.commit).toEqual([{ topic: 'sluice.stuck', partition: 0, offset: 1n }]);
  });

  it('bounds a sink that throws the same way, and keeps the original bytes for a replay', async () => {
    const { pipeline, pg, dlq } = setup();
    pg.mode = { kind: 'throw', message: 'TypeError: cannot read properties of undefined' };
    const batch = records('stuck', 1);
    await pipeline.process(batch);
    expect(dlq.entries).toEqual([expect.objectContaining({ recordId: 'stuck-0-0', original: batch[0]!.value, reason: expect.stringMatching(/^sink postgres kept failing .*TypeError: cannot read/) as unknown })]);
  });

  it('never dead-letters because of an outage, however long it lasts: retryable is waited out', async () => {
    const { pipeline, pg, dlq } = setup();
    pg.mode = { kind: 'retryable', reason: 'connect ECONNREFUSED' };
    let settled = false;
    const processing = pipeline.process(records('stuck', 2)).finally(() => (settled = true));
    await waitFor(() => pg.writes >= 10, { timeoutMs: 10_000, intervalMs: 10, what: '10 attempts, well past the unclassified budget' });
    await new Promise((r) => setTimeout(r, 60));
    expect(settled).toBe(false);
    pg.mode = { kind: 'ok' };
    const result = await processing;
    expect(dlq.entries).toEqual([]);
    expect([...pg.records.keys()]).toEqual(['stuck-0-0', 'stuck-0-1']);
    expect(result.counts.get('stuck')).toEqual({ ingested: 2, failed: 0 });
  });

  it('settles each partition share on its own and opens breakers per dataset, so a failing dataset holds only itself', async () => {
    const { pipeline, pg } = setup({ breaker: { resetTimeoutMs: 60_000 } });
    pg.modes.set('stuck', { kind: 'retryable' });
    const stalls: string[] = [];
    const shares = pipeline.start([...records('stuck', 3), ...records('healthy', 3, 1)], (share, stall) => stalls.push(`${share.topic}/${share.partition} ${stall.dataset} ${stall.sink}`));
    expect(shares.map((s) => [s.topic, s.partition, s.offset])).toEqual([
      ['sluice.stuck', 0, 2n],
      ['sluice.healthy', 1, 2n],
    ]);
    await shares[1]!.done;
    // Three failures in a row open a breaker; it then stays open for the minute of resetTimeoutMs.
    await waitFor(() => pg.writes >= 4, { timeoutMs: 10_000, intervalMs: 10, what: 'the stuck share to open its breaker' });
    // A breaker shared by the sink would be open now and would hold `healthy` for a minute.
    const later = pipeline.start(records('healthy', 2, 2));
    expect(await later[0]!.done).toEqual(new Map([['healthy', { ingested: 2, failed: 0 }]]));
    expect(stalls).toEqual(['sluice.stuck/0 stuck postgres']);
    let stuckSettled = false;
    const settle = (): boolean => (stuckSettled = true);
    void shares[0]!.done.then(settle, settle);
    await new Promise((r) => setTimeout(r, 30));
    expect(stuckSettled).toBe(false);
    expect([...pg.records.keys()].filter((id) => id.startsWith('stuck'))).toEqual([]);
  });

  it('holds only the partitions that carry blobs while the blob store is down, then completes them in order', async () => {
    let down = true;
    const stored: string[] = [];
    const blobStep = (what: string): Promise<Outcome> => (down ? Promise.resolve(retryable('connect ECONNREFUSED 127.0.0.1:9000')) : (stored.push(what), Promise.resolve(ok)));
    const { pipeline, pg } = setup({ blobs: { writeChunk: (c) => blobStep(`chunk ${c.index}`), complete: (e) => blobStep(`complete ${e.id}`) } });
    const sha = 'b'.repeat(64);
    const chunk = (index: number) => {
      const m = message(Buffer.from(`part ${index}`), { topic: 'sluice.stuck', offset: BigInt(index) });
      m.headers = { [KAFKA_HEADERS.contentType]: CONTENT_TYPES.blobChunk, [KAFKA_HEADERS.dataset]: 'stuck', [KAFKA_HEADERS.blobSha256]: sha, [KAFKA_HEADERS.blobChunk]: String(index), [KAFKA_HEADERS.blobChunks]: '2' };
      return m;
    };
    const closing = message(envelope('stuck', 'file-1', { i: 0 }, { blob: { key: 'f.bin', size: 12, sha256: sha, contentType: 'application/octet-stream', chunks: 2 } }), { topic: 'sluice.stuck', offset: 2n });
    const stalls: string[] = [];
    const [files, healthy] = pipeline.start([chunk(0), chunk(1), closing, ...records('healthy', 3, 0)], (share, stall) => stalls.push(`${share.topic} ${stall.sink}`));
    expect(await healthy!.done).toEqual(new Map([['healthy', { ingested: 3, failed: 0 }]]));
    await waitFor(() => stalls.length > 0, { timeoutMs: 10_000, intervalMs: 10, what: 'the blob share to stall' });
    expect(stalls).toEqual(['sluice.stuck blobs']);
    expect(pg.records.has('file-1')).toBe(false);
    down = false;
    expect(await files!.done).toEqual(new Map([['stuck', { ingested: 1, failed: 0 }]]));
    expect(stored).toEqual(['chunk 0', 'chunk 1', 'complete file-1']);
    expect(pg.records.has('file-1')).toBe(true);
  });
});

describe('ConsumerLoop: one dataset never stops the others', () => {
  function loopOver(kafka: FakeKafka, pipeline: Pipeline, metrics: ControlPlaneMetrics, topics: string[]) {
    const loop = new ConsumerLoop({
      consumer: kafka as unknown as KafkaConsumer,
      pipeline,
      listTopics: () => Promise.resolve(topics),
      pool: { query: () => Promise.resolve({ rows: [] }) } as unknown as pg.Pool,
      metrics,
      logger,
      topicPrefix: 'sluice.',
      maxRecords: 50,
      maxWaitMs: 10,
      maxInFlight: 2,
      pauseAfterMs: 20,
      topicRefreshMs: 50,
    });
    const running = loop.start();
    cleanup.push(async () => {
      await loop.stop();
      await running;
    });
    return loop;
  }
  const committedTo = (kafka: FakeKafka, topic: string, partition = 0) => kafka.committed.get(`${topic}\u0000${partition}`);

  it('pauses the topic of a dataset whose sink is down, keeps loading the others exactly once, and resumes it when the sink heals', async () => {
    const { pipeline, pg, search, metrics, dlq } = setup();
    const kafka = new FakeKafka();
    search.mode = { kind: 'retryable', reason: 'search: connect ECONNREFUSED' };
    loopOver(kafka, pipeline, metrics, ['sluice.searched', 'sluice.healthy']);
    kafka.append('sluice.searched', 0, records('searched', 120));
    kafka.append('sluice.healthy', 0, records('healthy', 100));
    await waitFor(() => kafka.subscriptions.some((s) => s.join() === 'sluice.healthy'), { timeoutMs: 10_000, intervalMs: 10, what: 'the stalled topic to be paused' });
    expect(await gauge(metrics, 'sluice_dataset_paused', { dataset: 'searched' })).toBe(1);
    // While `searched` is paused, `healthy` goes on: more records arrive and load, and commit.
    for (let round = 0; round < 4; round++) kafka.append('sluice.healthy', 0, records('healthy', 50, 0, 100 + round * 50));
    await waitFor(() => committedTo(kafka, 'sluice.healthy') === 300n, { timeoutMs: 10_000, intervalMs: 10, what: 'healthy to commit all 300 records' });
    expect(pg.records.size).toBe(300);
    expect([...pg.copies.values()].every((n) => n === 1)).toBe(true);
    expect(committedTo(kafka, 'sluice.searched')).toBeUndefined();
    expect(search.records.size).toBe(0);

    search.mode = { kind: 'ok' };
    await waitFor(() => committedTo(kafka, 'sluice.searched') === 120n, { timeoutMs: 10_000, intervalMs: 10, what: 'searched to commit once its sink is back' });
    await waitFor(() => kafka.subscriptions.at(-1)!.includes('sluice.searched'), { timeoutMs: 10_000, intervalMs: 10, what: 'searched to be subscribed again' });
    expect(await gauge(metrics, 'sluice_dataset_paused', { dataset: 'searched' })).toBe(0);
    kafka.append('sluice.searched', 0, records('searched', 10, 0, 120));
    await waitFor(() => committedTo(kafka, 'sluice.searched') === 130n, { timeoutMs: 10_000, intervalMs: 10, what: 'records after the resume' });
    expect(search.records.size).toBe(130);
    expect(Math.max(...search.copies.values())).toBe(1);
    expect(dlq.entries).toEqual([]);
  });

  it('dead-letters the paused dataset after the unclassified budget, commits past it and resumes it', async () => {
    const { pipeline, pg, metrics, dlq } = setup({ unclassified: { attempts: 3, windowMs: 300 } });
    const kafka = new FakeKafka();
    pg.modes.set('stuck', { kind: 'unclassified', reason: 'XMinioInvalidResourceName' });
    loopOver(kafka, pipeline, metrics, ['sluice.stuck', 'sluice.healthy']);
    kafka.append('sluice.stuck', 0, records('stuck', 30));
    kafka.append('sluice.healthy', 0, records('healthy', 30));
    await waitFor(() => committedTo(kafka, 'sluice.healthy') === 30n, { timeoutMs: 10_000, intervalMs: 10, what: 'healthy to load while stuck retries' });
    expect(committedTo(kafka, 'sluice.stuck')).toBeUndefined();
    await waitFor(() => committedTo(kafka, 'sluice.stuck') === 30n, { timeoutMs: 10_000, intervalMs: 10, what: 'stuck to be dead-lettered and committed' });
    expect(dlq.entries.map((e) => e.recordId).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `stuck-0-${i}`).sort());
    for (const e of dlq.entries) expect(e.reason).toMatch(/^sink postgres kept failing with an error it does not classify: XMinioInvalidResourceName \(\d+ attempts over \d+ s\)/);
    expect([...pg.records.keys()].filter((id) => id.startsWith('stuck'))).toEqual([]);
    await waitFor(() => kafka.subscriptions.at(-1)!.includes('sluice.stuck'), { timeoutMs: 10_000, intervalMs: 10, what: 'stuck to be resumed' });
  });
});

describe('PartitionOffsets', () => {
  it('commits a partition only over a settled prefix, and counts what each topic still holds', () => {
    const offsets = new PartitionOffsets();
    const a = offsets.add('t', 0, 99n);
    const b = offsets.add('t', 0, 199n);
    const c = offsets.add('t', 0, 299n);
    const other = offsets.add('t', 1, 5n);
    expect(offsets.settle(b)).toBeUndefined();
    expect(offsets.settle(other)).toBe(5n);
    expect(offsets.settle(a)).toBe(199n);
    expect(offsets.unsettled('t')).toBe(1);
    expect(offsets.settle(c)).toBe(299n);
    expect(offsets.settle(c)).toBeUndefined();
    expect(offsets.unsettled('t')).toBe(0);
  });
});
