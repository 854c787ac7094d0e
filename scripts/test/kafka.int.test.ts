import { Consumer, Producer, ProduceAcks, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { uniqueName } from './support/stack-control.ts';

const env = loadStackEnv();

describe('kafka (single node)', () => {
  const topic = uniqueName('smoke-kafka');
  const producer = new Producer({
    clientId: 'smoke-producer',
    bootstrapBrokers: env.kafkaBrokers,
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    autocreateTopics: true,
  });
  const consumer = new Consumer({
    clientId: 'smoke-consumer',
    groupId: uniqueName('smoke-group'),
    bootstrapBrokers: env.kafkaBrokers,
    deserializers: stringDeserializers,
  });

  afterAll(async () => {
    await Promise.allSettled([producer.close(), consumer.close(true)]);
  });

  it('produces with an idempotent acks=all producer and consumes the message back', async () => {
    const result = await producer.send({
      messages: [
        { topic, key: 'record-1', value: JSON.stringify({ hello: 'sluice' }), headers: { dataset: 'smoke' } },
      ],
    });
    expect(result.offsets?.[0]?.offset).toBe(0n);

    const stream = await consumer.consume({
      topics: [topic],
      mode: 'earliest',
      autocommit: false,
      maxWaitTime: 500,
    });
    try {
      for await (const message of stream) {
        expect(message.key).toBe('record-1');
        expect(JSON.parse(message.value) as unknown).toEqual({ hello: 'sluice' });
        expect(message.headers.get('dataset')).toBe('smoke');
        break;
      }
    } finally {
      await stream.close();
    }
  });
});
