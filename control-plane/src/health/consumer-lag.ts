/**
 * Consumer lag in records and in seconds, per topic partition, as the API reports it.
 *
 * Records: the log end minus the group's committed offset (Kafka's own answer). Seconds: the age of the
 * oldest record the group has not consumed, i.e. of the message at the committed offset, read from the
 * broker by its timestamp. Read here, in the API process, and not reported by the consumer itself, because
 * lag matters most when the consumer is down or stuck, which is exactly when it reports nothing. One read
 * (a metadata request and one small fetch per partition leader, only for partitions that lag) serves every
 * caller for `ttlMs`; at most `maxPartitions` lagging partitions get an age per read (the most behind first).
 */
import type { PartitionPosition } from '@sluice/shared/node/kafka-timestamps';

export interface LagSource {
  /** Every dataset topic's partitions: records behind and the group's next offset there. */
  lag(): Promise<Array<{ topic: string; partition: number; lag: bigint; committed: bigint }>>;
  /** Timestamp (ms) of the message at each position; undefined where there is none. */
  timestampsAt(positions: readonly PartitionPosition[]): Promise<Array<bigint | undefined>>;
}

export interface PartitionLagAge {
  topic: string;
  partition: number;
  records: number;
  /** 0 when nothing waits; null when the oldest waiting record's time could not be read. */
  seconds: number | null;
}

export interface ConsumerLagReaderOptions {
  source: LagSource;
  ttlMs?: number;
  maxPartitions?: number;
  now?: () => number;
}

export class ConsumerLagReader {
  readonly #o: ConsumerLagReaderOptions;
  #cached: { at: number; value: Promise<PartitionLagAge[]> } | undefined;

  constructor(options: ConsumerLagReaderOptions) {
    this.#o = options;
  }

  /** Rejects when Kafka could not say; a failed read is not cached. */
  read(): Promise<PartitionLagAge[]> {
    const now = this.#now();
    if (this.#cached && now - this.#cached.at < (this.#o.ttlMs ?? 5_000)) return this.#cached.value;
    const value = this.#read(now);
    const entry = { at: now, value };
    this.#cached = entry;
    value.catch(() => {
      if (this.#cached === entry) this.#cached = undefined;
    });
    return value;
  }

  async #read(now: number): Promise<PartitionLagAge[]> {
    const partitions = await this.#o.source.lag();
    const lagging = partitions
      .filter((p) => p.lag > 0n)
      .sort((a, b) => (b.lag > a.lag ? 1 : b.lag < a.lag ? -1 : 0))
      .slice(0, this.#o.maxPartitions ?? 500);
    const stamps = await this.#o.source.timestampsAt(lagging.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.committed })));
    const ages = new Map(lagging.map((p, i) => [`${p.topic}\u0000${p.partition}`, stamps[i]]));
    return partitions.map((p) => {
      const stamp = ages.get(`${p.topic}\u0000${p.partition}`);
      // A clock skew between broker and here must not make an age negative.
      const seconds = p.lag <= 0n ? 0 : stamp === undefined ? null : Math.max(0, (now - Number(stamp)) / 1000);
      return { topic: p.topic, partition: p.partition, records: Number(p.lag), seconds };
    });
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }
}
