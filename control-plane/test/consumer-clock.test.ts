import { afterEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { KafkaConsumer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ManualClock } from '@sluice/shared/node/testing/manual-clock';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { ConsumerLoop } from '../src/consumer/consumer-loop.ts';
import type { PipelineOptions } from '../src/consumer/pipeline.ts';
import { FakeKafka } from './support/fake-kafka.ts';
import { memoryPipeline } from './support/memory-pipeline.ts';
import { envelope, message } from './support/messages.ts';

// The consumer's waits on a manual clock: what it waits for is asserted, then time is moved, so nothing here
// sleeps for real to prove that something did not happen yet.

const logger = createLogger('test', { level: 'silent' });
const datasets = new Map<string, DatasetVersion>([
  ['searched', { spec: { name: 'searched', sinks: { search: { enabled: true } } }, version: 1, schema: { type: 'object' } }],
  ['healthy', { spec: { name: 'healthy', sinks: { postgres: { enabled: true } } }, version: 1, schema: { type: 'object' } }],
]);

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

function setup(clock: ManualClock, options: Partial<PipelineOptions> = {}) {
  return memoryPipeline(datasets, { retry: { minDelayMs: 1_000, maxDelayMs: 1_000 }, breaker: { resetTimeoutMs: 0 }, clock, ...options }, (...steps) => cleanup.push(...steps));
}

const records = (ds: string, n: number) => Array.from({ length: n }, (_, i) => message(envelope(ds, `${ds}-${i}`, { i }), { topic: `sluice.${ds}`, partition: 0, offset: BigInt(i) }));

/**
 * Moves the clock to each next wake-up until `done`. Real turns in between let the code get to its next
 * wait (the sink breaker's half-open timer is opossum's own, in real time).
 */
async function runClockUntil(clock: ManualClock, done: () => boolean, what: string): Promise<void> {
  for (let turn = 0; turn < 20_000 && !done(); turn++) {
    await new Promise((resolve) => setImmediate(resolve));
    const next = clock.sleeping[0];
    if (next) clock.advance(Math.max(0, next.wakeAt - clock.now()));
    else await new Promise((resolve) => setTimeout(resolve, 1));
  }
  if (!done()) throw new Error(`timed out waiting for ${what}`);
}

describe('Pipeline on a manual clock', () => {
  it('measures the unclassified budget on its clock: the batch is dead-lettered once the window has passed there', async () => {
    const clock = new ManualClock();
    const { pipeline, pg, dlq } = setup(clock, { unclassified: { attempts: 3, windowMs: 60_000 } });
    pg.mode = { kind: 'unclassified', reason: 'XMinioInvalidResourceName' };
    const started = clock.now();
    let settled = false;
    const processing = pipeline.process(records('healthy', 2)).finally(() => (settled = true));
    // Observed below; this keeps a test that fails half-way from leaving an unhandled rejection at cleanup's abort.
    processing.catch(() => undefined);
    await runClockUntil(clock, () => clock.now() - started >= 30_000 && pg.writes >= 3, 'three attempts and half the window');
    // Attempts are spent, half the window is not: the writer is waiting to try again, nothing is dead-lettered.
    await clock.untilSleeping();
    expect(clock.sleeping[0]!.ms).toBe(1_000);
    expect(settled).toBe(false);
    expect(dlq.entries).toEqual([]);
    await runClockUntil(clock, () => settled, 'the batch to be dead-lettered');
    const result = await processing;
    expect(clock.now() - started).toBeGreaterThanOrEqual(60_000);
    expect(result.counts.get('healthy')).toEqual({ ingested: 0, failed: 2 });
    expect(dlq.entries.map((e) => e.recordId)).toEqual(['healthy-0', 'healthy-1']);
    const [, spentSeconds] = /^sink postgres kept failing with an error it does not classify: XMinioInvalidResourceName \(\d+ attempts over (\d+) s\)/.exec(dlq.entries[0]!.reason) ?? [];
    expect(Number(spentSeconds)).toBeGreaterThanOrEqual(60);
  });

  it('waits an outage out however long it lasts on its clock: an hour of retryable answers dead-letters nothing', async () => {
    const clock = new ManualClock();
    const { pipeline, pg, dlq } = setup(clock, { unclassified: { attempts: 3, windowMs: 60_000 } });
    pg.mode = { kind: 'retryable', reason: 'connect ECONNREFUSED' };
    const started = clock.now();
    let settled = false;
    const processing = pipeline.process(records('healthy', 2)).finally(() => (settled = true));
    // Observed below; this keeps a test that fails half-way from leaving an unhandled rejection at cleanup's abort.
    processing.catch(() => undefined);
    await runClockUntil(clock, () => clock.now() - started >= 3_600_000, 'an hour on the clock');
    // Sixty times the unclassified window: the writer is still waiting to try again.
    await clock.untilSleeping();
    expect(settled).toBe(false);
    // Still trying, well past the unclassified budget's 3 attempts. (How many writes reach the sink depends on
    // opossum's half-open timer, which runs in real time, so no exact count.)
    expect(pg.writes).toBeGreaterThan(3);
    expect(dlq.entries).toEqual([]);
    pg.mode = { kind: 'ok' };
    await runClockUntil(clock, () => settled, 'the batch to load once the sink is back');
    expect((await processing).counts.get('healthy')).toEqual({ ingested: 2, failed: 0 });
    expect([...pg.records.keys()]).toEqual(['healthy-0', 'healthy-1']);
  });
});

describe('ConsumerLoop on a manual clock', () => {
  it('pauses the topic of a stalled dataset once pauseAfterMs has passed on its clock, and not before', async () => {
    const clock = new ManualClock();
    const { pipeline, search, metrics } = setup(clock);
    const kafka = new FakeKafka();
    const pauseAfterMs = 2_000;
    const loop = new ConsumerLoop({
      consumer: kafka as unknown as KafkaConsumer,
      pipeline,
      listTopics: () => Promise.resolve(['sluice.searched', 'sluice.healthy']),
      pool: { query: () => Promise.resolve({ rows: [] }) } as unknown as pg.Pool,
      metrics,
      logger,
      topicPrefix: 'sluice.',
      maxRecords: 50,
      maxWaitMs: 10,
      maxInFlight: 2,
      pauseAfterMs,
      topicRefreshMs: 60_000,
      clock,
    });
    search.mode = { kind: 'retryable', reason: 'search: connect ECONNREFUSED' };
    const running = loop.start();
    cleanup.push(async () => {
      await loop.stop();
      await running;
    });
    kafka.append('sluice.searched', 0, records('searched', 120));
    kafka.append('sluice.healthy', 0, records('healthy', 10));

    // The first write failed: the loop now waits pauseAfterMs before it pauses the topic.
    await waitFor(() => clock.sleeping.some((s) => s.ms === pauseAfterMs), { timeoutMs: 5_000, intervalMs: 5, what: 'the pause delay' });
    const pauseAt = clock.sleeping.find((s) => s.ms === pauseAfterMs)!.wakeAt;
    expect(kafka.subscriptions).toEqual([['sluice.healthy', 'sluice.searched']]);
    clock.advance(pauseAt - 1 - clock.now());
    await new Promise((resolve) => setImmediate(resolve));
    expect(clock.sleeping).toContainEqual({ ms: pauseAfterMs, wakeAt: pauseAt });
    expect(kafka.subscriptions).toHaveLength(1);

    clock.advance(1);
    await waitFor(() => kafka.subscriptions.at(-1)?.join() === 'sluice.healthy', { timeoutMs: 5_000, intervalMs: 5, what: 'the topic to be paused' });
    const paused = (await metrics.registry.getSingleMetric('sluice_dataset_paused')!.get()).values.find((v) => v.labels.dataset === 'searched');
    expect(paused?.value).toBe(1);

    search.mode = { kind: 'ok' };
    await runClockUntil(clock, () => kafka.committed.get('sluice.searched\u00000') === 120n, 'searched to commit once its sink is back');
    await runClockUntil(clock, () => kafka.subscriptions.at(-1)!.includes('sluice.searched'), 'searched to be subscribed again');
    expect(search.records.size).toBe(120);
  });
});
