/**
 * The one module that knows the Kafka client library (@platformatic/kafka), with kafka-timestamps.ts (reading
 * single messages' timestamps) and kafka-record-batch.ts (record batches built ahead of the send). The agent's shipper, the control plane's consumer and its ingest API use only
 * what these files export, so the client can be swapped here.
 */
import {
  Admin,
  Consumer,
  kGetApi,
  ListOffsetTimestamps,
  Producer,
  ProduceAcks,
  stringDeserializer,
  Writer,
  type API,
  type Callback,
  type Connection,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import { batchBytes, batchMessages, type Compression, type RecordBatch } from './kafka-record-batch.ts';

export type { Compression };

export interface OutgoingMessage {
  topic: string;
  key: string | Buffer;
  value: Buffer;
  /** Share one object per dataset: its encoded form is cached by identity. */
  headers: Readonly<Record<string, string>>;
  /**
   * The key is a unique record id, not an ordering key, so any partition will do: the producer puts all such
   * messages of one `send` on one partition (rotating per send), which makes one large, well-compressed
   * record batch instead of one small batch per partition, and skips hashing every key. Without it the
   * partition is murmur2(key), as every Kafka client computes it (per-key ordering).
   */
  spread?: boolean;
}

export interface ProducerSettings {
  brokers: string[];
  clientId: string;
  compression?: Compression;
  /** How long the broker may take to have a batch on all in-sync replicas before it answers with an error. */
  timeoutMs?: number;
  /**
   * Retry each request until the broker answers or the producer is closed (backoff up to `maxRetryDelayMs`,
   * default 5 s): for callers whose records wait safely meanwhile (the agent's outbox). Otherwise a request is
   * tried 3 times within about a second, then `send` rejects (an HTTP caller answers 503 promptly).
   */
  retryUntilAcknowledged?: boolean;
  maxRetryDelayMs?: number;
  /** Called before each internal retry: the request failed (broker down, connection lost) and is tried again. */
  onRetry?: (error: Error, attempt: number) => void;
}

const RETRY_BASE_DELAY_MS = 250;
const BOUNDED_RETRIES = 2;

/**
 * An idempotent producer with acks=all: a resolved `send` means every message is durable on the in-sync
 * replicas, once.
 *
 * The client gives each partition's batch a producer id, epoch and sequence number when `send` is called,
 * and its own retries re-send that batch with the same numbers, also on a new connection: the broker
 * recognises a batch it has already written and answers with its offset (KIP-98; the broker remembers the
 * last 5 batches per producer and partition; the client keeps one request in flight per connection). Once
 * `send` rejects, the client drops its producer id, so sending the same messages again makes a new batch
 * under a new id, which the broker cannot recognise: a re-send that may duplicate. Hence
 * `retryUntilAcknowledged`: unbounded retries of whatever the client deems retriable (broker down or
 * restarting, a lost answer), with backoff without jitter so that requests waiting for one partition keep
 * their order; `send` then rejects only for what retrying cannot fix, or when the producer is closed.
 */
export class KafkaProducer {
  readonly #producer: BatchProducer;
  readonly #compression: Compression;
  /** Rotates the partition of spread messages from one send to the next (normalised modulo the count). */
  #nextSpread = Math.floor(Math.random() * 1024);

  constructor(settings: ProducerSettings) {
    this.#compression = settings.compression ?? 'lz4';
    this.#producer = new BatchProducer({
      clientId: settings.clientId,
      bootstrapBrokers: settings.brokers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      compression: this.#compression,
      autocreateTopics: true,
      timeout: settings.timeoutMs ?? 15_000,
      retries: settings.retryUntilAcknowledged === true ? Number.MAX_SAFE_INTEGER : BOUNDED_RETRIES,
      retryDelay: (_client, _operation, attempt, _retries, error) => {
        settings.onRetry?.(error, attempt);
        if (settings.retryUntilAcknowledged !== true) return RETRY_BASE_DELAY_MS;
        return Math.min(RETRY_BASE_DELAY_MS * 2 ** Math.min(attempt - 1, 16), settings.maxRetryDelayMs ?? 5_000);
      },
      // Keys and headers arrive as bytes already (see toProduce): no per-message re-encoding.
      serializers: { key: identity, value: identity, headerKey: identity, headerValue: identity },
    });
  }

  /**
   * Sends and resolves when every message is acknowledged. A request the broker refuses as too large
   * (its limit applies to each partition's compressed batch) is split in halves and sent again; a single
   * message over the limit fails with a clear error.
   */
  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    try {
      await this.#sendOnce(messages);
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      if (messages.length === 1) {
        throw new Error(`a message of ${messages[0]!.value.length} bytes is larger than the broker accepts (message.max.bytes)`, { cause: error });
      }
      const half = Math.ceil(messages.length / 2);
      await this.send(messages.slice(0, half));
      await this.send(messages.slice(half));
    }
  }

  async #sendOnce(messages: readonly OutgoingMessage[]): Promise<void> {
    // Spread messages fill one partition up to PARTITION_BATCH_BYTES, then the next: large batches that stay
    // under the broker's per-partition limit once compressed. Without a partition the client hashes the key.
    let spreadTo = this.#nextSpread++;
    let spreadBytes = 0;
    const partitionOf = (m: OutgoingMessage): number | undefined => {
      if (m.spread !== true) return undefined;
      spreadBytes += m.value.length;
      if (spreadBytes > PARTITION_BATCH_BYTES) {
        spreadTo = this.#nextSpread++;
        spreadBytes = m.value.length;
      }
      return spreadTo;
    };
    await this.#producer.send({
      messages: messages.map((m) => ({
        topic: m.topic,
        key: typeof m.key === 'string' ? Buffer.from(m.key) : m.key,
        value: m.value,
        headers: encodedHeaders(m.headers),
        partition: partitionOf(m),
      })),
      acks: ProduceAcks.ALL,
      compression: this.#compression,
    });
  }

  /**
   * Sends record batches built ahead (kafka-record-batch.ts), each to one partition (rotating, as spread
   * messages), and resolves when all are acknowledged. The client assigns the producer id and sequences as for
   * messages; only the request's records are the prebuilt bytes. A batch the broker refuses as too large is
   * sent again as messages, which are split.
   */
  async sendBatches(batches: readonly RecordBatch[]): Promise<void> {
    await Promise.all(batches.map((batch) => this.#sendBatch(batch)));
  }

  async #sendBatch(batch: RecordBatch): Promise<void> {
    // One stand-in message per record: the client counts them for the batch's sequence numbers (also when
    // it recovers a lost producer state), and the Produce request writes the batch itself (BatchProducer).
    const stub = { topic: batch.topic, partition: this.#nextSpread++, value: batch as unknown as Buffer };
    prebuilt.add(batch);
    try {
      await this.#producer.send({ messages: new Array<typeof stub>(batch.records).fill(stub), acks: ProduceAcks.ALL, compression: this.#compression });
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      await this.send(batchMessages(batch));
    }
  }

  /** Sends one message (murmur2 partition of its key) and says where it landed, e.g. for a DLQ replay's record. */
  async sendOne(message: OutgoingMessage): Promise<{ topic: string; partition: number; offset: bigint }> {
    const result = await this.#producer.send({
      messages: [{ topic: message.topic, key: typeof message.key === 'string' ? Buffer.from(message.key) : message.key, value: message.value, headers: encodedHeaders(message.headers) }],
      acks: ProduceAcks.ALL,
      compression: this.#compression,
    });
    const at = result.offsets?.find((o) => o.topic === message.topic);
    if (!at) throw new Error(`the broker acknowledged the message to ${message.topic} without an offset`);
    return { topic: at.topic, partition: at.partition, offset: at.offset };
  }

  async close(): Promise<void> {
    await this.#producer.close(true);
  }
}

/**
 * Uncompressed bytes a request should put on one partition: the broker's default message.max.bytes (1 MiB)
 * limits each partition's compressed batch. Spread messages are cut at it here; the agent's shipper caps
 * the keyed messages of a request at it (they may all hash to one partition).
 */
export const PARTITION_BATCH_BYTES = 960 * 1024;

/** Whether the broker refused a request because a partition's batch exceeds message.max.bytes. */
function isTooLarge(error: unknown, depth = 0): boolean {
  if (error === null || typeof error !== 'object' || depth > 5) return false;
  const e = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (e.apiId === 'MESSAGE_TOO_LARGE' || e.apiId === 'RECORD_LIST_TOO_LARGE') return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isTooLarge(inner, depth + 1))) return true;
  return isTooLarge(e.cause, depth + 1);
}

/** Batches handed to `sendBatches`, recognised in the Produce request by the stand-in messages' value. */
const prebuilt = new WeakSet<RecordBatch>();
/** Each batch's timestamp, taken at its first request and kept for its retries. */
const batchTimestamps = new WeakMap<RecordBatch, bigint>();

interface ProduceMessage {
  topic: string;
  partition: number;
  value: unknown;
}
interface ProduceOptions {
  producerId?: bigint;
  producerEpoch?: number;
  transactionalId?: string;
  sequences?: { getWithDefault(key: string, fallback: number): number };
}
type ProduceApi = API<[number, number, ProduceMessage[], ProduceOptions], unknown>;

/**
 * The client's producer, whose Produce requests write a prebuilt record batch as it is when their messages
 * are `sendBatches` stand-ins (one request per batch, to one partition); other requests are the client's own.
 */
class BatchProducer extends Producer<Buffer, Buffer, Buffer, Buffer> {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    if (name !== 'Produce') {
      super[kGetApi](name, callback);
      return;
    }
    super[kGetApi]<[number, number, ProduceMessage[], ProduceOptions], unknown>(name, (error, api) => {
      if (error || api === undefined) {
        callback(error ?? new Error('the client found no Produce API'));
        return;
      }
      callback(null, withPrebuiltBatches(api) as unknown as API<RequestArguments, ResponseType>);
    });
  }
}

const wrappedApis = new WeakMap<ProduceApi, ProduceApi>();
function withPrebuiltBatches(api: ProduceApi): ProduceApi {
  let wrapped = wrappedApis.get(api);
  if (wrapped !== undefined) return wrapped;
  const version = api.version;
  wrapped = Object.assign(
    (connection: Connection, acks: number, timeout: number, messages: ProduceMessage[], options: ProduceOptions, callback: Callback<unknown>) => {
      const batch = messages[0]?.value as RecordBatch | undefined;
      if (batch === undefined || !prebuilt.has(batch)) {
        api(connection, acks, timeout, messages, options, callback);
        return;
      }
      // The client builds its request inside connection.send (createAPI): the same call with our builder.
      const real = connection;
      const proxy = {
        send: (apiKey: number, apiVersion: number, _create: unknown, ...rest: unknown[]) =>
          (real.send as (...args: unknown[]) => void)(apiKey, apiVersion, () => prebuiltRequest(version, acks, timeout, messages[0]!, batch, options), ...rest),
      } as unknown as Connection;
      api(proxy, acks, timeout, messages, options, callback);
    },
    { async: api.async, key: api.key, version: api.version },
  ) as unknown as ProduceApi;
  wrappedApis.set(api, wrapped);
  return wrapped;
}

/** A Produce request (v3 to v11) carrying one prebuilt batch for one partition. */
function prebuiltRequest(version: number, acks: number, timeout: number, message: ProduceMessage, batch: RecordBatch, options: ProduceOptions): Writer {
  let timestamp = batchTimestamps.get(batch);
  if (timestamp === undefined) {
    timestamp = BigInt(Date.now());
    batchTimestamps.set(batch, timestamp);
  }
  const bytes = batchBytes(batch, {
    producerId: options.producerId ?? -1n,
    producerEpoch: options.producerEpoch ?? 0,
    firstSequence: options.sequences?.getWithDefault(`${message.topic}:${message.partition}`, 0) ?? 0,
    timestamp,
    transactional: options.transactionalId !== undefined,
  });
  const compact = version >= 9;
  const writer = Writer.create().appendString(options.transactionalId, compact).appendInt16(acks).appendInt32(timeout);
  writer.appendArray(
    [message.topic],
    (w, topic) => {
      w.appendString(topic, compact).appendArray(
        [message.partition],
        (w2, partition) => {
          w2.appendInt32(partition);
          if (compact) w2.appendUnsignedVarInt(bytes.length + 1);
          else w2.appendInt32(bytes.length);
          w2.append(bytes);
        },
        compact,
        compact,
      );
    },
    compact,
    compact,
  );
  if (compact) writer.appendTaggedFields();
  return writer;
}

function identity(data?: Buffer): Buffer | undefined {
  return data;
}

const headersCache = new WeakMap<object, Map<Buffer, Buffer>>();
/** Headers as the client sends them, encoded once per headers object (sources share one per dataset). */
function encodedHeaders(headers: Readonly<Record<string, string>>): Map<Buffer, Buffer> {
  let encoded = headersCache.get(headers);
  if (encoded === undefined) {
    encoded = new Map(Object.entries(headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)]));
    headersCache.set(headers, encoded);
  }
  return encoded;
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
  /**
   * Bytes the consumer's fetches may return together (the client's default is 50 MB per fetch, all decoded at
   * once). The client has one fetch in flight per broker and keeps every response it gets, so each fetch asks
   * for this divided by the brokers of the cluster: the budget holds per process, whatever the cluster's size.
   * A soft limit: a record batch larger than a fetch's share still comes back whole, so a consumer always makes
   * progress.
   */
  fetchMaxBytes?: number;
}

type ClientMessage = Message<string, Buffer, string, string>;

function incoming(message: ClientMessage): IncomingMessage {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    key: message.key ?? undefined,
    value: message.value,
    headers: headerRecord(message.headers),
    timestamp: message.timestamp,
  };
}

/** `Object.fromEntries(headers)`, about five times faster for the few headers a message has. */
function headerRecord(headers: Map<string, string>): Record<string, string> {
  const record: Record<string, string> = {};
  for (const [key, value] of headers) {
    // Assigning "__proto__" would set the prototype, not a property: leave such a message to fromEntries.
    if (key === '__proto__') return Object.fromEntries(headers);
    record[key] = value;
  }
  return record;
}

/** A fetch's share of a consumer's byte budget among `brokers` (at least 64 KiB, so fetches stay worth a round trip). */
export function fetchShare(budget: number, brokers: number): number {
  return Math.max(64 * 1024, Math.floor(budget / Math.max(1, brokers)));
}

/** Messages behind the log end for one partition this group consumes. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: bigint;
  /** The next offset the group reads there (0 when it never committed one). */
  committed: bigint;
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
    const stream = await this.#open(topics);
    for await (const message of stream as AsyncIterable<ClientMessage>) yield incoming(message);
  }

  /**
   * Like `messages()`, but yields everything already fetched and buffered (up to `maxChunk` messages) at
   * once: one await per chunk instead of one per message, which counts at tens of thousands a second.
   *
   * The client's stream does not keep to its high-water mark: it pushes whole fetch responses and, with
   * several brokers, went on fetching while its buffer grew (85,000 messages and an out-of-memory end against
   * three brokers). So this pauses the client's fetching while more than one chunk waits in its buffer and
   * resumes it once less than half a chunk does: what is buffered stays near a chunk plus the fetches in flight.
   * `resume()` keeps the stream in pull mode while the iterator listens for 'readable', so nothing is skipped.
   */
  async *messageChunks(topics: string[] = this.#settings.topics, maxChunk = 1_000): AsyncGenerator<IncomingMessage[]> {
    const stream = await this.#open(topics);
    let paused = false;
    // The iterator waits for the first message; the rest of the chunk is read from the buffer without waiting
    // (an object-mode `read()` returns one message, or null when the buffer is empty).
    for await (const first of stream as AsyncIterable<ClientMessage>) {
      const chunk = [incoming(first)];
      let next: ClientMessage | null;
      while (chunk.length < maxChunk && (next = stream.read() as ClientMessage | null) !== null) chunk.push(incoming(next));
      // Paused again while full even if it is paused already: the client resumes its stream after a rebalance.
      if (stream.readableLength >= maxChunk) {
        paused = true;
        stream.pause();
      } else if (paused && stream.readableLength < maxChunk / 2) {
        paused = false;
        stream.resume();
      }
      yield chunk;
    }
  }

  async #open(topics: string[]): Promise<MessagesStream<string, Buffer, string, string>> {
    const maxBytes = await this.#fetchShare();
    const stream = await this.#consumer.consume({
      topics,
      mode: 'committed',
      fallbackMode: this.#settings.from ?? 'earliest',
      autocommit: false,
      ...(maxBytes === undefined ? {} : { maxBytes, maxBytesPerPartition: maxBytes }),
      ...(this.#settings.highWaterMark === undefined ? {} : { highWaterMark: this.#settings.highWaterMark }),
    });
    this.#stream = stream;
    return stream;
  }

  /**
   * What one fetch may return: `fetchMaxBytes` shared among the cluster's brokers, because the client fetches
   * from every partition leader at once (three brokers held three fetches' records, and a 160 MB heap ran out).
   * Asked again at each subscription, so a cluster that grew is accounted for at the next re-subscription.
   */
  async #fetchShare(): Promise<number | undefined> {
    const budget = this.#settings.fetchMaxBytes;
    if (budget === undefined) return undefined;
    const { brokers } = await this.#consumer.metadata({ topics: [] });
    return fetchShare(budget, brokers.size);
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
        out.push({ topic, partition, lag: end - (at < 0n ? 0n : at), committed: at < 0n ? 0n : at });
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

/** One admin connection for `work`, closed after it whatever happens. */
async function withAdmin<T>(brokers: string[], work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'sluice-admin', bootstrapBrokers: brokers });
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

/** Creates the topics that are missing; existing ones are left as they are. */
export function ensureTopics(brokers: string[], topics: readonly TopicSpec[]): Promise<void> {
  return withAdmin(brokers, async (admin) => {
    const existing = new Set(await admin.listTopics());
    for (const topic of topics) {
      if (existing.has(topic.name)) continue;
      await admin.createTopics({ topics: [topic.name], partitions: topic.partitions ?? 3, replicas: topic.replicas ?? 1 });
    }
  });
}

/** Deletes the topics that exist (tests clean up the topics they made). */
export function deleteTopics(brokers: string[], topics: readonly string[]): Promise<void> {
  return withAdmin(brokers, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const names = topics.filter((t) => existing.has(t));
    if (names.length > 0) await admin.deleteTopics({ topics: names });
  });
}

/**
 * The records a topic holds since it was created: the sum of its partitions' log-end offsets (benchmarks wait
 * for it to reach what they wrote). One admin connection for many polls; `close()` it.
 */
export class TopicEndOffsets {
  readonly #admin: Admin;

  constructor(brokers: string[]) {
    this.#admin = new Admin({ clientId: 'sluice-end-offsets', bootstrapBrokers: brokers });
  }

  async total(topic: string, partitions: number): Promise<bigint> {
    const request = { name: topic, partitions: Array.from({ length: partitions }, (_, partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) };
    const [listed] = await this.#admin.listOffsets({ topics: [request] });
    return (listed?.partitions ?? []).reduce((sum, p) => sum + p.offset, 0n);
  }

  async close(): Promise<void> {
    await this.#admin.close();
  }
}

export function listTopics(brokers: string[]): Promise<string[]> {
  return withAdmin(brokers, (admin) => admin.listTopics());
}

/** Members of a consumer group and the partitions each holds (operations views, rebalance tests). */
export function describeGroup(brokers: string[], groupId: string): Promise<Array<{ clientId: string; partitions: Array<{ topic: string; partition: number }> }>> {
  return withAdmin(brokers, async (admin) => {
    const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
    if (!group) return [];
    return [...group.members.values()].map((m) => ({
      clientId: m.clientId,
      partitions: [...(m.assignments?.values() ?? [])].flatMap((a) => a.partitions.map((partition) => ({ topic: a.topic, partition }))),
    }));
  });
}
