import { randomUUID } from 'node:crypto';
import { KafkaConsumer, type IncomingMessage } from '@sluice/shared/node/kafka';
import { ownTopics } from '@sluice/shared/node/testing/test-resources';

/**
 * Reads a topic from the beginning (a fresh consumer group) until `done(messages)` holds, or fails after
 * `timeoutMs` saying how many arrived. The topic is the test's: it is deleted after the file.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  done: (messages: IncomingMessage[]) => boolean,
  timeoutMs = 120_000,
): Promise<IncomingMessage[]> {
  ownTopics(topic);
  const consumer = new KafkaConsumer({ brokers, clientId: 'it-reader', groupId: `it-${randomUUID()}`, topics: [topic], from: 'earliest' });
  const messages: IncomingMessage[] = [];
  const timer = setTimeout(() => void consumer.stopMessages(), timeoutMs);
  timer.unref();
  try {
    if (done(messages)) return messages;
    for await (const message of consumer.messages()) {
      messages.push(message);
      if (done(messages)) break;
    }
  } finally {
    clearTimeout(timer);
    await consumer.close();
  }
  if (!done(messages)) throw new Error(`read ${messages.length} messages from ${topic} in ${timeoutMs} ms; the condition did not hold`);
  return messages;
}
