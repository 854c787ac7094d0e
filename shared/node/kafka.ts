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
  /** Topics of the first `messages()` call; later calls may name others (re-subscription). */
  topics: string[];
  /** Where a group with no committed offset starts. */
  from?: 'earliest' | 'latest';
  sessionTimeoutMs?: number;
  maxWaitMs?: number;
  /** Messages the client may hold fetched but not yet consumed (bounds memory while a sink is down). */
  highWaterMark?: number;
}

/** Messages behind the log end for one partition this group consumes. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: bigint;
}

/**
 * A consumer-group member with manual commits: the caller commits only what every sink acknowledged.
 * Messages arrive through `messages()`; `commit` takes the highest processed offset per partition.
 * To follow new topics, close the current stream with `stopMessages()` and call `messages()` again with
 * the new list: the member rejoins the group with the new subscription (the client has no regex
 * subscription).
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

  async *messages(topics: string[] = this.#settings.topics): AsyncGenerator<IncomingMessage> {
    const stream = await this.#consumer.consume({
      topics,
      mode: 'committed',
      fallbackMode: this.#settings.from ?? 'earliest',
      autocommit: false,
      ...(this.#settings.highWaterMark === undefined ? {} : { highWaterMark: this.#settings.highWaterMark }),
    });
    this.#stream = stream;
    for await (const message of stream as AsyncIterable<Message<string, Buffer, string, string>>) {
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

  /** Ends the current `messages()` stream; the group membership stays until `close()`. */
  async stopMessages(): Promise<void> {
    const stream = this.#stream;
    this.#stream = undefined;
    await stream?.close();
  }

  /** Commits `offset + 1` (the next to read) for each partition's last processed message. */
  async commit(processed: ReadonlyArray<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    if (processed.length === 0) return;
    await this.#consumer.commit({
      offsets: processed.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset + 1n, leaderEpoch: -1 })),
    });
  }

  /** Lag of the group on every partition of `topics`: log end minus the group's committed offset. */
  async lag(topics: string[]): Promise<PartitionLag[]> {
    if (topics.length === 0) return [];
    const ends = await this.#consumer.listOffsets({ topics });
    const committed = await this.#consumer.listCommittedOffsets({
      topics: [...ends].map(([topic, offsets]) => ({ topic, partitions: offsets.map((_, i) => i) })),
    });
    const out: PartitionLag[] = [];
    for (const [topic, offsets] of ends) {
      const done = committed.get(topic) ?? [];
      offsets.forEach((end, partition) => {
        const at = done[partition] ?? -1n;
        out.push({ topic, partition, lag: end - (at < 0n ? 0n : at) });
      });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.stopMessages();
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

/** Members of a consumer group and the partitions each holds (operations views, rebalance tests). */
export async function describeGroup(brokers: string[], groupId: string): Promise<Array<{ clientId: string; partitions: Array<{ topic: string; partition: number }> }>> {
  const admin = new Admin({ clientId: 'sluice-admin', bootstrapBrokers: brokers });
  try {
    const groups = await admin.describeGroups({ groups: [groupId] });
    const group = groups.get(groupId);
    if (!group) return [];
    return [...group.members.values()].map((m) => ({
      clientId: m.clientId,
      partitions: [...(m.assignments?.values() ?? [])].flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))),
    }));
  } finally {
    await admin.close();
  }
}
