import { describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { IncomingMessage, KafkaConsumer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ConsumerLoop, datasetTopics } from '../src/consumer/consumer-loop.ts';
import { Pipeline } from '../src/consumer/pipeline.ts';
import { SinkRegistry } from '../src/consumer/sink-registry.ts';
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

  async *messages(topics: string[]): AsyncGenerator<IncomingMessage> {
    this.subscriptions.push(topics);
    this.#stopped = false;
    while (!this.#stopped) {
      const next = this.queue.shift();
      if (next) yield next;
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

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('datasetTopics', () => {
  it('keeps the prefix topics except the DLQ', () => {
    expect(datasetTopics(['sluice.b', 'sluice.dlq', 'other', 'sluice.a', 'sluice.'], 'sluice.', 'sluice.dlq')).toEqual(['sluice.a', 'sluice.b']);
  });
});

describe('ConsumerLoop', () => {
  it('batches, commits the highest offsets after the sinks, and re-subscribes when topics appear', async () => {
    const fake = new FakeConsumer();
    const sink = new MemorySink('postgres');
    const metrics = new ControlPlaneMetrics();
    let topics = ['sluice.a'];
    const pipeline = new Pipeline({
      datasets: { latest: (name) => Promise.resolve(name === 'a' ? ds : undefined) },
      validators: new ValidatorCache(),
      sinks: new SinkRegistry().register('postgres', sink),
      deadLetters: { write: () => Promise.resolve() },
      metrics,
      logger: logs,
    });
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
    await until(() => sink.records.size === 3 && fake.commits.length >= 2);
    expect(fake.commits[0]).toEqual([{ topic: 'sluice.a', partition: 0, offset: 1n }]);
    expect(fake.commits.at(-1)).toEqual([{ topic: 'sluice.a', partition: 0, offset: 2n }]);

    topics = ['sluice.a', 'sluice.b'];
    await until(() => fake.subscriptions.length === 2);
    expect(fake.subscriptions).toEqual([['sluice.a'], ['sluice.a', 'sluice.b']]);
    await loop.stop();
    await running;
    await pipeline.close();
  });
});
