import { setImmediate as nextTurn } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { IncomingMessage, KafkaConsumer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ConsumerLoop, datasetTopics, messageBytes } from '../src/consumer/consumer-loop.ts';
import { Pipeline } from '../src/consumer/pipeline.ts';
import { SinkRegistry } from '../src/sinks/registry.ts';
import { ValidatorCache } from '../src/datasets/validators.ts';
import { ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import { MemorySink } from './support/memory-sink.ts';
import { envelope, message } from './support/messages.ts';

const logs = createLogger('test', { level: 'silent' });
const ds: DatasetVersion = { spec: { name: 'a', sinks: { postgres: { enabled: true } } }, version: 1, schema: { type: 'object' } };

/** Stands in for KafkaConsumer: hands out queued messages per subscription and records commits. */
class FakeConsumer {
  queue: IncomingMessage[] = [];
  subscriptions: string[][] = [];
  commits: Array<Array<{ topic: string; partition: number; offset: bigint }>> = [];
  #wake: (() => void) | undefined;
  #stopped = false;
  /** Chunks the fake hands out, whatever the loop asked for (the loop must cope with any size). */
  chunkSize: number | undefined;
  /** Each chunk handed out, held weakly: whether the loop lets go of what it consumed. */
  readonly handedOut: Array<WeakRef<IncomingMessage[]>> = [];

  async *messageChunks(topics: string[], maxChunk: number): AsyncGenerator<IncomingMessage[]> {
    this.subscriptions.push(topics);
    this.#stopped = false;
    while (!this.#stopped) {
      if (this.queue.length > 0) {
        const chunk = this.queue.splice(0, this.chunkSize ?? maxChunk);
        this.handedOut.push(new WeakRef(chunk));
        yield chunk;
      }
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
  push(...messages: IncomingMessage[]): void {
    this.queue.push(...messages);
    this.#wake?.();
  }
  stopMessages(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    return Promise.resolve();
  }
  commit(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    this.commits.push(offsets);
    return Promise.resolve();
  }
  lag(): Promise<[]> {
    return Promise.resolve([]);
  }
}

describe('datasetTopics', () => {
  it('keeps the prefix topics except the DLQ', () => {
    expect(datasetTopics(['sluice.b', 'sluice.dlq', 'other', 'sluice.a', 'sluice.'], 'sluice.', 'sluice.dlq')).toEqual(['sluice.a', 'sluice.b']);
  });
});

/** A pipeline for dataset `a` writing to one in-memory sink. */
function pipelineInto(sink: MemorySink, metrics: ControlPlaneMetrics): Pipeline {
  return new Pipeline({
    datasets: { latest: (name) => Promise.resolve(name === 'a' ? ds : undefined) },
    validators: new ValidatorCache(),
    sinks: new SinkRegistry().register('postgres', sink),
    deadLetters: { write: () => Promise.resolve() },
    metrics,
    logger: logs,
  });
}

/** Record `i` of dataset `a` at offset `i` of partition 0. */
const offsetMessage = (i: number): IncomingMessage => message(envelope('a', `r${i}`, {}), { topic: 'sluice.a', partition: 0, offset: BigInt(i) });

/** A running loop over topic sluice.a into one in-memory sink, recording the size of every batch it hands out. */
function batchingLoop(batching: { maxRecords: number; maxWaitMs: number; maxBytes?: number }) {
  const fake = new FakeConsumer();
  const sink = new MemorySink('postgres');
  const metrics = new ControlPlaneMetrics();
  const pipeline = pipelineInto(sink, metrics);
  const sizes: number[] = [];
  const weights: number[] = [];
  const start = pipeline.start.bind(pipeline);
  pipeline.start = (batch, onStall) => (sizes.push(batch.length), weights.push(batch.reduce((n, m) => n + messageBytes(m), 0)), start(batch, onStall));
  const loop = new ConsumerLoop({
    consumer: fake as unknown as KafkaConsumer,
    pipeline,
    listTopics: () => Promise.resolve(['sluice.a']),
    pool: { query: () => Promise.resolve({ rows: [] }) } as unknown as pg.Pool,
    metrics,
    logger: logs,
    topicPrefix: 'sluice.',
    ...batching,
    topicRefreshMs: 50,
  });
  const running = loop.start();
  const stop = async (): Promise<void> => {
    await loop.stop();
    await running;
    await pipeline.close();
  };
  return { fake, sink, sizes, weights, stop };
}

describe('ConsumerLoop', () => {
  it('batches, commits the highest offsets after the sinks, and re-subscribes when topics appear', async () => {
    const fake = new FakeConsumer();
    const sink = new MemorySink('postgres');
    const metrics = new ControlPlaneMetrics();
    let topics = ['sluice.a'];
    const pipeline = pipelineInto(sink, metrics);
    const loop = new ConsumerLoop({
      consumer: fake as unknown as KafkaConsumer,
      pipeline,
      listTopics: () => Promise.resolve([...topics, 'sluice.dlq']),
      pool: { query: () => Promise.resolve({ rows: [] }) } as unknown as pg.Pool,
      metrics,
      logger: logs,
      topicPrefix: 'sluice.',
      dlqTopic: 'sluice.dlq',
      maxRecords: 2,
      maxWaitMs: 20,
      topicRefreshMs: 50,
    });
    const running = loop.start();
    fake.push(...[0, 1, 2].map((i) => message(envelope('a', `r${i}`, {}), { topic: 'sluice.a', partition: 0, offset: BigInt(i) })));
    await waitFor(() => sink.records.size === 3 && fake.commits.length >= 2, { timeoutMs: 4_000, intervalMs: 10 });
    expect(fake.commits[0]).toEqual([{ topic: 'sluice.a', partition: 0, offset: 1n }]);
    expect(fake.commits.at(-1)).toEqual([{ topic: 'sluice.a', partition: 0, offset: 2n }]);

    topics = ['sluice.a', 'sluice.b'];
    await waitFor(() => fake.subscriptions.length === 2, { timeoutMs: 4_000, intervalMs: 10 });
    expect(fake.subscriptions).toEqual([['sluice.a'], ['sluice.a', 'sluice.b']]);
    await loop.stop();
    await running;
    await pipeline.close();
  });

  it('cuts chunks that straddle batches: the rest starts the next batch, nothing is lost or reordered', async () => {
    const { fake, sink, sizes, stop } = batchingLoop({ maxRecords: 2, maxWaitMs: 20 });
    fake.chunkSize = 3;
    fake.push(...[0, 1, 2, 3, 4, 5, 6].map(offsetMessage));
    await waitFor(() => sink.records.size === 7 && fake.commits.at(-1)?.[0]?.offset === 6n, { timeoutMs: 4_000, intervalMs: 10 });
    expect(Math.max(...sizes)).toBeLessThanOrEqual(2);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(7);
    const committed = fake.commits.map((c) => c[0]!.offset);
    expect(committed).toEqual([...committed].sort((a, b) => (a < b ? -1 : 1)));
    await stop();
  });

  it('closes a batch on bytes before it has maxRecords: big records make small batches, a record over the bound goes alone', async () => {
    // Records of ~1 kB and one of ~5 kB, with room for 3 kB per batch: the count bound (100) never applies.
    const sized = (i: number, bytes: number): IncomingMessage => message(envelope('a', `r${i}`, { pad: 'x'.repeat(bytes) }), { topic: 'sluice.a', partition: 0, offset: BigInt(i) });
    const messages = [0, 1, 2, 3, 4, 5, 6].map((i) => sized(i, i === 4 ? 5_000 : 1_000));
    const { fake, sink, sizes, weights, stop } = batchingLoop({ maxRecords: 100, maxWaitMs: 20, maxBytes: 3_000 });
    fake.push(...messages);
    await waitFor(() => sink.records.size === 7 && fake.commits.at(-1)?.[0]?.offset === 6n, { timeoutMs: 4_000, intervalMs: 10 });
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(7);
    // Every batch is within the bound, but for the one record larger than it, which is a batch of one.
    for (const [i, weight] of weights.entries()) expect(weight <= 3_000 || sizes[i] === 1).toBe(true);
    expect(sizes.filter((n, i) => n === 1 && weights[i]! > 3_000)).toHaveLength(1);
    // ~1.2 kB each: two fit, a third does not, so no batch has more than two.
    expect(Math.max(...sizes)).toBe(2);
    expect(sink.records.size).toBe(7);
    await stop();
  });

  it('hands idle sinks what has arrived at once, and fills the next batch while one is in the sinks', async () => {
    // A batch that waited to fill would wait a minute: only the adaptive cut makes this test pass in time.
    const { fake, sink, sizes, stop } = batchingLoop({ maxRecords: 5, maxWaitMs: 60_000 });
    let release: () => void = () => undefined;
    let gate: Promise<void> = Promise.resolve();
    const write = sink.write.bind(sink);
    sink.write = async (batch) => {
      await gate;
      return write(batch);
    };
    fake.push(offsetMessage(0));
    await waitFor(() => sink.records.size === 1, { timeoutMs: 3_000, intervalMs: 5 });

    gate = new Promise((resolve) => (release = resolve));
    fake.push(offsetMessage(1));
    await waitFor(() => sizes.length === 2, { timeoutMs: 3_000, intervalMs: 5 });
    fake.push(...[2, 3, 4, 5, 6].map(offsetMessage));
    await waitFor(() => sizes.length === 3, { timeoutMs: 3_000, intervalMs: 5 });
    release();
    await waitFor(() => sink.records.size === 7 && fake.commits.at(-1)?.[0]?.offset === 6n, { timeoutMs: 3_000, intervalMs: 5 });
    expect(sizes).toEqual([1, 1, 5]);
    await stop();
  });

  it('lets go of the chunks it consumed once their batches are committed', async () => {
    // A promise raced in every wait for the whole subscription once kept each chunk reachable: RSS grew with
    // the records consumed until the backlog was done.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const { fake, sink, stop } = batchingLoop({ maxRecords: 1, maxWaitMs: 5 });
    fake.chunkSize = 1;
    for (let i = 0; i < 40; i++) {
      fake.push(offsetMessage(i));
      await waitFor(() => sink.records.size === i + 1, { timeoutMs: 3_000, intervalMs: 1 });
    }
    await waitFor(() => fake.commits.at(-1)?.[0]?.offset === 39n, { timeoutMs: 3_000, intervalMs: 5 });
    // A WeakRef holds its target until the current job ends: collect, let the job end, collect again.
    gc();
    await nextTurn();
    gc();
    const alive = fake.handedOut.filter((ref) => ref.deref() !== undefined).length;
    expect(fake.handedOut).toHaveLength(40);
    // The last chunk or two may still be referenced by the wait in progress; none of the older ones.
    expect(alive).toBeLessThanOrEqual(2);
    await stop();
  });
});
