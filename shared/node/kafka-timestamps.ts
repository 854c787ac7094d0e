/**
 * Reading the timestamp of single messages at given positions, beside kafka.ts (the other module that knows
 * the client library): the control plane's consumer lag in seconds is the age of the message at a group's
 * committed offset.
 */
import { Consumer } from '@platformatic/kafka';

/** A position in a partition: the offset of the next message to read there. */
export interface PartitionPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * The timestamp (ms) of the message at each position, or undefined where there is none (the position is the
 * log end, or was deleted by retention) or the broker did not answer: for consumer lag in seconds, the age of
 * the oldest message a group has not consumed. One throwaway client per call, so no fetch session outlives it
 * (a session answers only partitions whose state changed); one fetch per partition leader, at most
 * `maxBytesPerPartition` per partition (the broker still returns a whole first record batch).
 */
export async function timestampsAt(brokers: string[], positions: readonly PartitionPosition[], maxBytesPerPartition = 64 * 1024): Promise<Array<bigint | undefined>> {
  const out: Array<bigint | undefined> = positions.map(() => undefined);
  if (positions.length === 0) return out;
  const client = new Consumer({ clientId: 'sluice-lag-age', groupId: 'sluice-lag-age', bootstrapBrokers: brokers, retries: 1 });
  try {
    const metadata = await client.metadata({ topics: [...new Set(positions.map((p) => p.topic))] });
    const byNode = new Map<number, Array<{ index: number; topicId: string; position: PartitionPosition }>>();
    positions.forEach((position, index) => {
      const topic = metadata.topics.get(position.topic);
      const leader = topic?.partitions[position.partition]?.leader;
      if (topic === undefined || leader === undefined || leader < 0) return;
      const list = byNode.get(leader) ?? [];
      list.push({ index, topicId: topic.id, position });
      byNode.set(leader, list);
    });
    await Promise.all(
      [...byNode].map(async ([node, wanted]) => {
        const topics = new Map<string, Array<{ partition: number; fetchOffset: bigint; partitionMaxBytes: number; currentLeaderEpoch: number; lastFetchedEpoch: number }>>();
        for (const { topicId, position } of wanted) {
          const list = topics.get(topicId) ?? [];
          list.push({ partition: position.partition, fetchOffset: position.offset, partitionMaxBytes: maxBytesPerPartition, currentLeaderEpoch: -1, lastFetchedEpoch: -1 });
          topics.set(topicId, list);
        }
        const response = await client
          .fetch({ node, maxWaitTime: 0, minBytes: 0, maxBytes: 8 * maxBytesPerPartition, topics: [...topics].map(([topicId, partitions]) => ({ topicId, partitions })) })
          .catch(() => undefined);
        for (const { index, topicId, position } of wanted) {
          const answer = response?.responses.find((t) => t.topicId === topicId)?.partitions.find((p) => p.partitionIndex === position.partition);
          if (answer === undefined || answer.errorCode !== 0) continue;
          out[index] = firstTimestampFrom(answer.records ?? [], position.offset);
        }
      }),
    );
    return out;
  } finally {
    await client.close(true).catch(() => undefined);
  }
}

/** A fetch answers whole record batches: the first record at or after `offset` is the one asked for. */
function firstTimestampFrom(batches: ReadonlyArray<{ firstOffset: bigint; firstTimestamp: bigint; records: ReadonlyArray<{ offsetDelta: number; timestampDelta: bigint }> }>, offset: bigint): bigint | undefined {
  for (const batch of batches) {
    for (const record of batch.records) {
      if (batch.firstOffset + BigInt(record.offsetDelta) >= offset) return batch.firstTimestamp + record.timestampDelta;
    }
  }
  return undefined;
}
