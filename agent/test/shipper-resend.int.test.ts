import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deleteTopics, ensureTopics, KafkaConsumer, KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { Outbox } from '../src/outbox/outbox.ts';
import { Shipper } from '../src/shipper/shipper.ts';
import { KafkaProxy } from './support/kafka-proxy.ts';
import { readTopic } from './support/topic-reader.ts';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

/**
 * The producer between the shipper and the real, shared broker goes through a proxy of this test's own
 * (support/kafka-proxy.ts), which loses the broker's answers and cuts the connections mid-send: the broker has
 * written a batch the producer never heard back about. Counting the topic by id then shows whether the
 * re-send was deduplicated by the broker (same producer id and sequence) or written twice.
 */
const brokers = loadStackEnv().kafkaBrokers;
const run = `${Date.now()}_${process.pid}`;
const dir = mkdtempSync(path.join(tmpdir(), 'sluice-resend-'));
const headers = Object.freeze({ dataset: 'resend_test' });
const topics: string[] = [];
let proxy: KafkaProxy;

/** A silent logger whose info and warn calls are kept as `{...fields, msg}`. */
function logCapture(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const log = createLogger('test', { level: 'silent' });
  const info = vi.spyOn(log, 'info');
  const warn = vi.spyOn(log, 'warn');
  const lines = (): Array<Record<string, unknown>> =>
    [...info.mock.calls, ...warn.mock.calls].map(([fields, msg]) => ({ ...(fields as object), msg }));
  return { log, lines };
}

function commitRecords(outbox: Outbox, topic: string, count: number, perCommit: number): void {
  for (let i = 0; i < count; i += perCommit) {
    outbox.commit(Array.from({ length: Math.min(perCommit, count - i) }, (_, j) => ({ topic, key: `id-${i + j}`, value: Buffer.from(`{"n":${i + j}}`), headers, spread: true })));
  }
}

/** Every message of the topic, read until the count equals the partitions' log end offsets. */
async function countById(topic: string): Promise<{ total: number; byId: Map<string, number> }> {
  const probe = new KafkaConsumer({ brokers, clientId: 'resend-probe', groupId: `resend-probe-${run}-${topic}`, topics: [topic] });
  const ends = await probe.lag([topic]).finally(() => probe.close());
  const total = ends.reduce((n, p) => n + Number(p.lag), 0);
  const messages = await readTopic(brokers, topic, (seen) => seen.length >= total, 60_000);
  const byId = new Map<string, number>();
  for (const m of messages) byId.set(m.key!, (byId.get(m.key!) ?? 0) + 1);
  return { total, byId };
}

async function newTopic(name: string): Promise<string> {
  const topic = `test.${name}_${run}`;
  topics.push(topic);
  await ensureTopics(brokers, [{ name: topic, partitions: 3 }]);
  return topic;
}

describe('shipper re-sends against a real broker behind a proxy that loses answers', () => {
  beforeAll(async () => {
    proxy = new KafkaProxy(brokers[0]!);
    await proxy.listen();
  });
  afterAll(async () => {
    await proxy.close();
    await deleteTopics(brokers, topics).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Ships 3,000 records while the third Produce request reaches the broker, its answer is lost, then every
   * connection is cut and refused for 3 s: longer than a few quick client retries, as when a broker restarts.
   */
  async function shipThroughLostAnswer(name: string, retryUntilAcknowledged: boolean) {
    const topic = await newTopic(name);
    const outbox = new Outbox({ file: path.join(dir, `${name}.db`), maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'NORMAL', recordBatches: 'lz4' });
    commitRecords(outbox, topic, 3_000, 100);
    const { log, lines } = logCapture();
    proxy.produceRequests = 0;
    const restore = proxy.routeThrough();
    proxy.onProduce((n) => {
      if (n !== 3) return;
      proxy.loseResponses(true);
      setTimeout(() => {
        proxy.cut(true);
        proxy.loseResponses(false);
        setTimeout(() => proxy.refuse(false), 3_000);
      }, 200);
    });
    const shipper = new Shipper({
      outbox,
      createSender: (events) => new KafkaProducer({ brokers, clientId: `resend-${name}`, timeoutMs: 5_000, retryUntilAcknowledged, maxRetryDelayMs: 500, onRetry: events.onRetry }),
      batchSize: 200,
      lingerMs: 0,
      maxBatchBytes: 1 << 20,
      log,
      minRetryDelayMs: 50,
      maxRetryDelayMs: 200,
    });
    try {
      shipper.start();
      await waitFor(() => outbox.stats().rows === 0, 60_000, 'the outbox to drain');
    } finally {
      await shipper.stop(0);
      proxy.onProduce(undefined);
      restore();
      outbox.close();
    }
    expect(proxy.produceRequests).toBeGreaterThan(3);
    expect(lines().some((l) => l.msg === 'kafka send failed; backing off, the outbox keeps the records')).toBe(true);
    expect(shipper.status().shipped).toBe(3_000);
    const { total, byId } = await countById(topic);
    return { total, byId, idsWrittenTwice: [...byId.values()].filter((n) => n > 1).length, resent: shipper.status().resent, lines };
  }

  it('a batch written but not acknowledged across a reconnect is retried with its sequence: each id once, no re-send counted', async () => {
    const { total, byId, idsWrittenTwice, resent } = await shipThroughLostAnswer('reconnect', true);
    expect({ ids: byId.size, messages: total, idsWrittenTwice }).toEqual({ ids: 3_000, messages: 3_000, idsWrittenTwice: 0 });
    expect(resent).toBe(0);
  });

  it('a producer that gives up (bounded retries) makes the shipper re-send: every duplicate in the topic is counted and logged', async () => {
    const { total, byId, idsWrittenTwice, resent, lines } = await shipThroughLostAnswer('giveup', false);
    expect(byId.size).toBe(3_000);
    expect(idsWrittenTwice).toBeGreaterThan(0);
    expect(resent).toBeGreaterThanOrEqual(total - byId.size);
    const notes = lines().filter((l) => String(l.msg).startsWith('re-sent records whose send had failed'));
    expect(notes.reduce((n, l) => n + Number(l.records), 0)).toBe(resent);
  });

  it('a restart with an unacknowledged backlog re-sends it under a new producer id: counted, logged once, each id still present', async () => {
    const topic = await newTopic('restart');
    const file = path.join(dir, 'restart.db');
    const first = new Outbox({ file, maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'NORMAL', recordBatches: 'lz4' });
    commitRecords(first, topic, 2_000, 100);
    proxy.produceRequests = 0;
    const restore = proxy.routeThrough();
    // From the first Produce request on, the broker writes but the producer never hears back.
    proxy.onProduce(() => proxy.loseResponses(true));
    const before = new Shipper({
      outbox: first,
      createSender: (events) => new KafkaProducer({ brokers, clientId: 'resend-test-1', timeoutMs: 5_000, retryUntilAcknowledged: true, maxRetryDelayMs: 500, onRetry: events.onRetry }),
      batchSize: 200,
      lingerMs: 0,
      maxBatchBytes: 1 << 20,
      log: createLogger('test', { level: 'silent' }),
    });
    before.start();
    try {
      await waitFor(() => proxy.produceRequests > 0, 30_000, 'a produce request');
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await before.stop(0);
      proxy.onProduce(undefined);
      restore();
      proxy.loseResponses(false);
      first.close();
    }
    expect(before.status().shipped).toBe(0);

    const outbox = new Outbox({ file, maxBytes: 1 << 30, maxRows: 1_000_000, synchronous: 'NORMAL', recordBatches: 'lz4' });
    expect(outbox.stats().rows).toBe(2_000);
    const { log, lines } = logCapture();
    const after = new Shipper({
      outbox,
      createSender: (events) => new KafkaProducer({ brokers, clientId: 'resend-test-2', timeoutMs: 5_000, retryUntilAcknowledged: true, maxRetryDelayMs: 500, onRetry: events.onRetry }),
      batchSize: 200,
      lingerMs: 0,
      maxBatchBytes: 1 << 20,
      log,
    });
    try {
      after.start();
      await waitFor(() => outbox.stats().rows === 0, 60_000, 'the outbox to drain');
    } finally {
      await after.stop(0);
      outbox.close();
    }
    const { total, byId } = await countById(topic);
    expect(byId.size).toBe(2_000);
    const duplicates = total - byId.size;
    // The first run's producer wrote at least its first batch; the restarted one cannot tell which.
    expect(duplicates).toBeGreaterThan(0);
    const resent = after.status().resent;
    expect(resent).toBeGreaterThanOrEqual(duplicates);
    expect(resent).toBeLessThan(2_000);
    const notes = lines().filter((l) => String(l.msg).startsWith('re-sending records a previous run had sent without an acknowledgement'));
    expect(notes).toHaveLength(1);
    expect(notes[0]!.records).toBe(resent);
  });
});
