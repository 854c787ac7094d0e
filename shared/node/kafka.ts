/**
 * The one module that knows the Kafka client library (@platformatic/kafka). The agent's shipper, the control
 * plane's consumer and its ingest API use only what this file exports, so the client can be swapped here.
 */
import {
  Admin,
  Consumer,
  Producer,
  ProduceAcks,
  stringDeserializer,
  stringSerializer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';

export type Compression = 'none' | 'gzip' | 'lz4' | 'zstd' | 'snappy';

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface ProducerSettings {
  brokers: string[];
  clientId: string;
  compression?: Compression;
  /** Per-request timeout; the caller's retry loop decides what happens after. */
  timeoutMs?: number;
}

/**
 * An idempotent producer with acks=all: a resolved `send` means every message is durable on the in-sync
 * replicas, and the broker drops the duplicates an internal retry may create.
 */
export class KafkaProducer {
  readonly #producer: Producer<string, Buffer, string, string>;
  readonly #compression: Compression;

  constructor(settings: ProducerSettings) {
    this.#compression = settings.compression ?? 'lz4';
    this.#producer = new Producer({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: this.#compression,
      autocreateTopics: true,
      timeout: settings.timeoutMs ?? 15_000,
      retries: 2,
      retryDelay: 250,
      serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
    });
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.#producer.send({
      messages: messages.map((m) => ({ topic: m.topic, key: m.key, value: m.value, headers: m.headers })),
      acks: ProduceAcks.ALL,
      compression: this.#compression,
    });
  }

  async close(): Promise<void> {
    await this.#producer.close(true);
  }
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: string | undefined;
  value: Buffer;
  headers: Record<string, string>;
  timestamp: bigint;
}

export interface ConsumerSettings {
  brokers: string[];
  clientId: string;
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts. */
  from?: 'earliest' | 'latest';
  sessionTimeoutMs?: number;
  maxWaitMs?: number;
}

/**
 * A consumer-group member with manual commits: the caller commits only what every sink acknowledged.
 * Messages arrive through `messages()`; `commit` takes the highest processed offset per partition.
 */
export class KafkaConsumer {
  readonly #consumer: Consumer<string, Buffer, string, string>;
  readonly #settings: ConsumerSettings;
  #stream: MessagesStream<string, Buffer, string, string> | undefined;

  constructor(settings: ConsumerSettings) {
    this.#settings = settings;
    this.#consumer = new Consumer({
      clientId: settings.clientId,
      groupId: settings.groupId,
      bootstrapBrokers: settings.brokers,
      autocommit: false,
      sessionTimeout: settings.sessionTimeoutMs ?? 10_000,
      heartbeatInterval: 1_000,
      maxWaitTime: settings.maxWaitMs ?? 200,
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
  }

  async *messages(): AsyncGenerator<IncomingMessage> {
    this.#stream = await this.#consumer.consume({
      topics: this.#settings.topics,
      mode: 'committed',
      fallbackMode: this.#settings.from ?? 'earliest',
      autocommit: false,
    });
    for await (const message of this.#stream as AsyncIterable<Message<string, Buffer, string, string>>) {
      yield {
        topic: message.topic,
        partition: message.partition,
        offset: message.offset,
        key: message.key ?? undefined,
        value: message.value,
        headers: Object.fromEntries(message.headers),
        timestamp: message.timestamp,
      };
    }
  }

  /** Commits `offset + 1` (the next to read) for each partition's last processed message. */
  async commit(processed: ReadonlyArray<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    if (processed.length === 0) return;
    await this.#consumer.commit({
      offsets: processed.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset + 1n, leaderEpoch: -1 })),
    });
  }

  async close(): Promise<void> {
    await this.#stream?.close();
    await this.#consumer.close(true);
  }
}

export interface TopicSpec {
  name: string;
  partitions?: number;
  replicas?: number;
}

/** Creates the topics that are missing; existing ones are left as they are. */
export async function ensureTopics(brokers: string[], topics: readonly TopicSpec[]): Promise<void> {
  const admin = new Admin({ clientId: 'sluice-admin', bootstrapBrokers: brokers });
  try {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics) {
      if (existing.has(topic.name)) continue;
      await admin.createTopics({ topics: [topic.name], partitions: topic.partitions ?? 3, replicas: topic.replicas ?? 1 });
    }
  } finally {
    await admin.close();
  }
}

export async function listTopics(brokers: string[]): Promise<string[]> {
  const admin = new Admin({ clientId: 'sluice-admin', bootstrapBrokers: brokers });
  try {
    return await admin.listTopics();
  } finally {
    await admin.close();
  }
}
