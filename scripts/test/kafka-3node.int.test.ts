import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  stringDeserializers,
  stringSerializers,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { stack, stackStatus, uniqueName } from './support/stack-control.ts';

// Fault test against the three-node KRaft cluster (`stack.sh up --kafka-nodes 3`): a replication-3 topic with
// min.insync.replicas=2 keeps accepting acks=all writes while one broker is down, loses nothing and
// duplicates nothing (idempotent producer), and the broker rejoins.
const env = loadStackEnv();
const brokers = env.kafkaBrokers3;
const STOPPED_NODE = '2';

async function clusterAlreadyUp(): Promise<boolean> {
  const status = await stackStatus();
  return [1, 2, 3].every((n) => new RegExp(`^kafka3-${n}\\s+\\d+\\s+\\d+\\s+healthy`, 'm').test(status));
}

describe('kafka three-node cluster survives a broker stop', () => {
  const topic = uniqueName('smoke-kafka3');
  let startedHere = false;
  let admin: Admin;
  let producer: Producer<string, string, string, string>;

  beforeAll(async () => {
    startedHere = !(await clusterAlreadyUp());
    if (startedHere) await stack('up', 'kafka3-1', 'kafka3-2', 'kafka3-3');
    admin = new Admin({ clientId: 'smoke3-admin', bootstrapBrokers: brokers });
    producer = new Producer({
      clientId: 'smoke3-producer',
      bootstrapBrokers: brokers,
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      retries: 20,
      retryDelay: 500,
    });
  });

  afterAll(async () => {
    // Whatever happened, the stopped broker comes back so later tests see a whole cluster.
    await stack('kafka-node', 'start', STOPPED_NODE).catch(() => undefined);
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await Promise.allSettled([producer?.close(), admin?.close()]);
    if (startedHere) await stack('down', '--kafka-nodes', '3');
  });

  async function produce(from: number, count: number): Promise<void> {
    for (let start = from; start < from + count; start += 50) {
      const messages = Array.from({ length: Math.min(50, from + count - start) }, (_, i) => ({
        topic,
        key: `k${start + i}`,
        value: String(start + i),
      }));
      await producer.send({ messages });
    }
  }

  async function consumeAll(expected: number): Promise<string[]> {
    const consumer = new Consumer({
      clientId: 'smoke3-consumer',
      groupId: uniqueName('smoke3-group'),
      bootstrapBrokers: brokers,
      deserializers: stringDeserializers,
    });
    const values: string[] = [];
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 500,
    });
    try {
      const deadline = Date.now() + 60_000;
      for await (const message of stream) {
        values.push(message.value);
        if (values.length >= expected || Date.now() > deadline) break;
      }
      // End offsets count every record written, so a duplicate from a retried send would show here.
      const extra = await consumer.listOffsets({ topics: [topic] });
      const total = [...extra.values()].flat().reduce((sum, offset) => sum + Number(offset), 0);
      expect(total).toBe(expected);
    } finally {
      await stream.close();
      await consumer.close(true);
    }
    return values;
  }

  it('creates a topic with replication factor 3', async () => {
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 3 });
    const metadata = await admin.metadata({ topics: [topic] });
    const partitions = metadata.topics.get(topic)?.partitions ?? [];
    expect(partitions).toHaveLength(3);
    for (const partition of partitions) expect(partition.replicas).toHaveLength(3);
  });

  it('keeps producing and consuming with acks=all while one broker is stopped, counting exactly', async () => {
    await produce(0, 300);
    await stack('kafka-node', 'stop', STOPPED_NODE);
    await produce(300, 300);
    const values = await consumeAll(600);
    expect(values).toHaveLength(600);
    expect(new Set(values).size).toBe(600);
  });

  it('restarts the broker, which rejoins every partition', async () => {
    await stack('kafka-node', 'start', STOPPED_NODE);
    await produce(600, 100);
    const deadline = Date.now() + 60_000;
    let isrSizes: number[] = [];
    while (Date.now() < deadline) {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
      isrSizes = (metadata.topics.get(topic)?.partitions ?? []).map((p) => p.isr.length);
      if (isrSizes.length === 3 && isrSizes.every((n) => n === 3)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(isrSizes).toEqual([3, 3, 3]);
    const values = await consumeAll(700);
    expect(new Set(values).size).toBe(700);
  });
});
