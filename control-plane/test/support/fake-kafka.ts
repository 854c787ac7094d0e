import type { IncomingMessage } from '@sluice/shared/node/kafka';

/**
 * Stands in for KafkaConsumer the way the group behaves for one member: a log per topic-partition, and
 * each `messageChunks` subscription reads the subscribed topics from their committed offsets on (what
 * `mode: 'committed'` does). So a re-subscription before a commit redelivers, as Kafka would.
 */
export class FakeKafka {
  readonly #logs = new Map<string, IncomingMessage[]>();
  /** Next offset to read per topic-partition, as the group committed it. */
  readonly committed = new Map<string, bigint>();
  readonly subscriptions: string[][] = [];
  readonly commits: Array<Array<{ topic: string; partition: number; offset: bigint }>> = [];
  #generation = 0;
  #wake: (() => void) | undefined;

  /** Appends messages to a partition's log; their offsets are set to their positions in it. */
  append(topic: string, partition: number, messages: IncomingMessage[]): void {
    const key = `${topic}\u0000${partition}`;
    const log = this.#logs.get(key) ?? [];
    for (const m of messages) log.push({ ...m, topic, partition, offset: BigInt(log.length) });
    this.#logs.set(key, log);
    this.#wake?.();
  }

  async *messageChunks(topics: string[], maxChunk: number): AsyncGenerator<IncomingMessage[]> {
    const generation = ++this.#generation;
    this.subscriptions.push([...topics]);
    const position = new Map<string, bigint>();
    while (generation === this.#generation) {
      const chunk: IncomingMessage[] = [];
      for (const [key, log] of this.#logs) {
        if (!topics.includes(key.split('\u0000')[0]!)) continue;
        let at = position.get(key) ?? this.committed.get(key) ?? 0n;
        while (chunk.length < maxChunk && at < BigInt(log.length)) chunk.push(log[Number(at++)]!);
        position.set(key, at);
      }
      if (chunk.length > 0) yield chunk;
      else await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  stopMessages(): Promise<void> {
    this.#generation++;
    this.#wake?.();
    return Promise.resolve();
  }

  commit(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void> {
    this.commits.push(offsets);
    for (const o of offsets) this.committed.set(`${o.topic}\u0000${o.partition}`, o.offset + 1n);
    return Promise.resolve();
  }

  lag(): Promise<[]> {
    return Promise.resolve([]);
  }
}
