import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaConsumer, KafkaProducer, type IncomingMessage } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { TEST_TOPIC_PREFIX, ownTopics } from '@sluice/shared/node/testing/test-resources';

const brokers = loadStackEnv().kafkaBrokers;
const run = `${Date.now()}_${process.pid}`;
const producer = new KafkaProducer({ brokers, clientId: 'producer-test', compression: 'lz4' });
const headers = Object.freeze({ dataset: 'producer_test' });

async function readAll(topic: string, count: number): Promise<IncomingMessage[]> {
  const consumer = new KafkaConsumer({ brokers, clientId: 'producer-test-reader', groupId: `producer-test-${topic}`, topics: [topic] });
  const seen: IncomingMessage[] = [];
  const deadline = Date.now() + 30_000;
  try {
    for await (const message of consumer.messages()) {
      seen.push(message);
      if (seen.length >= count || Date.now() > deadline) break;
    }
  } finally {
    await consumer.close();
  }
  return seen;
}

describe('KafkaProducer (real broker, 3 partitions per topic)', () => {
  afterAll(() => producer.close());

  it('puts the spread messages of one send on one partition, and hashes keyed messages to the same partition each time', async () => {
    const topic = `${TEST_TOPIC_PREFIX}spread_${run}`;
    ownTopics(topic);
    await producer.send([{ topic, key: 'warm', value: Buffer.from('{}'), headers }]);
    for (let send = 0; send < 3; send++) {
      await producer.send(Array.from({ length: 50 }, (_, i) => ({ topic, key: `id-${send}-${i}`, value: Buffer.from(`{"n":${i}}`), headers, spread: true })));
    }
    for (let send = 0; send < 3; send++) {
      await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: `user-${i}`, value: Buffer.from(`{"u":${i}}`), headers })));
    }
    const all = await readAll(topic, 1 + 150 + 30);
    expect(all).toHaveLength(181);
    for (let send = 0; send < 3; send++) {
      const partitions = new Set(all.filter((m) => m.key?.startsWith(`id-${send}-`)).map((m) => m.partition));
      expect(partitions.size).toBe(1);
    }
    for (let i = 0; i < 10; i++) {
      const partitions = new Set(all.filter((m) => m.key === `user-${i}`).map((m) => m.partition));
      expect(partitions.size).toBe(1);
    }
    expect(new Set(all.filter((m) => m.key?.startsWith('user-')).map((m) => m.partition)).size).toBeGreaterThan(1);
  });

  it('splits a request the broker refuses as too large and delivers every message once', async () => {
    const topic = `${TEST_TOPIC_PREFIX}toolarge_${run}`;
    ownTopics(topic);
    // Incompressible 400 KB values, all keyed alike: one partition batch of 2.4 MB, over message.max.bytes.
    const values = Array.from({ length: 6 }, () => randomBytes(400_000));
    await producer.send(values.map((value, i) => ({ topic, key: 'same-key', value, headers: { ...headers, n: String(i) } })));
    const all = await readAll(topic, 6);
    expect(all.map((m) => Number(m.headers.n)).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(all.every((m) => m.value.equals(values[Number(m.headers.n)]!))).toBe(true);
    await expect(producer.send([{ topic, key: 'k', value: randomBytes(1_200_000), headers }])).rejects.toThrow(/larger than the broker accepts/);
  });
});
