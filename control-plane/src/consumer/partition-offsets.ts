/**
 * Which offset each topic-partition may commit. A batch's share of a partition settles on its own (a
 * stalled dataset settles late, its neighbours at once), but a partition's offset only moves over a
 * prefix of settled shares: committing past an unsettled one would skip its records after a restart.
 *
 *   partition t/0:  [share ..99 settled] [share ..199 stalled] [share ..299 settled]  → commit 99
 *   ..199 settles:                                                                     → commit 299
 */
export interface TrackedShare {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

interface Entry extends TrackedShare {
  settled: boolean;
}

export class PartitionOffsets {
  /** Per partition, its unsettled shares and the settled ones behind them, in offset order. */
  readonly #queues = new Map<string, Entry[]>();
  readonly #unsettledPerTopic = new Map<string, number>();

  /** Shares of one partition must be added in offset order (the order Kafka delivers them). */
  add(topic: string, partition: number, offset: bigint): TrackedShare {
    const key = `${topic}\u0000${partition}`;
    const entry: Entry = { topic, partition, offset, settled: false };
    const queue = this.#queues.get(key);
    if (queue) queue.push(entry);
    else this.#queues.set(key, [entry]);
    this.#unsettledPerTopic.set(topic, (this.#unsettledPerTopic.get(topic) ?? 0) + 1);
    return entry;
  }

  /** Marks a share settled; returns the offset its partition may now commit, if that moved. */
  settle(share: TrackedShare): bigint | undefined {
    const entry = share as Entry;
    if (entry.settled) return undefined;
    entry.settled = true;
    const left = (this.#unsettledPerTopic.get(entry.topic) ?? 1) - 1;
    if (left === 0) this.#unsettledPerTopic.delete(entry.topic);
    else this.#unsettledPerTopic.set(entry.topic, left);
    const key = `${entry.topic}\u0000${entry.partition}`;
    const queue = this.#queues.get(key) ?? [];
    let committable: bigint | undefined;
    while (queue[0]?.settled === true) committable = queue.shift()!.offset;
    if (queue.length === 0) this.#queues.delete(key);
    return committable;
  }

  /** Shares of the topic not settled yet: a paused topic resumes at zero. */
  unsettled(topic: string): number {
    return this.#unsettledPerTopic.get(topic) ?? 0;
  }
}
