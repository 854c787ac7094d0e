/**
 * Reading a fixed offset range of one partition (replays of Kafka history), beside kafka.ts and
 * kafka-timestamps.ts (the modules that know the client library). No consumer group: plain fetches from the
 * partition's leader, so a replay commits nothing and disturbs no group.
 */
import { Consumer } from '@platformatic/kafka';

export interface RangeMessage {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

const CONTROL_BATCH = 0x20;

/**
 * Calls `onChunk` with the messages of [from, to) in offset order, a fetch at a time, and answers the
 * offset it stopped at: `to`, or the partition's end (high watermark) when that comes first. Offsets
 * deleted by retention are skipped (the read starts at the log start).
 */
export async function readPartitionRange(
  brokers: string[],
  range: { topic: string; partition: number; from: bigint; to: bigint },
  onChunk: (messages: RangeMessage[]) => Promise<void>,
  options: { signal?: AbortSignal; maxBytes?: number } = {},
): Promise<bigint> {
  const client = new Consumer({ clientId: 'sluice-kafka-range', groupId: 'sluice-kafka-range', bootstrapBrokers: brokers, retries: 3 });
  const maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  try {
    const metadata = await client.metadata({ topics: [range.topic] });
    const topic = metadata.topics.get(range.topic);
    const leader = topic?.partitions[range.partition]?.leader;
    if (topic === undefined || leader === undefined || leader < 0) throw new Error(`topic ${range.topic} has no partition ${range.partition} with a leader`);
    let offset = range.from;
    while (offset < range.to) {
      options.signal?.throwIfAborted();
      const response = await client.fetch({
        node: leader,
        maxWaitTime: 0,
        minBytes: 0,
        maxBytes,
        topics: [{ topicId: topic.id, partitions: [{ partition: range.partition, fetchOffset: offset, partitionMaxBytes: maxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      const answer = response.responses.find((t) => t.topicId === topic.id)?.partitions.find((p) => p.partitionIndex === range.partition);
      if (answer === undefined) throw new Error(`no fetch answer for ${range.topic}/${range.partition}`);
      if (answer.errorCode === 1 && answer.logStartOffset > offset) {
        // OFFSET_OUT_OF_RANGE below the log start: retention removed them.
        offset = answer.logStartOffset;
        continue;
      }
      if (answer.errorCode !== 0) throw new Error(`fetching ${range.topic}/${range.partition} at ${offset}: Kafka error code ${answer.errorCode}`);
      const messages: RangeMessage[] = [];
      let next = offset;
      for (const batch of answer.records ?? []) {
        const batchEnd = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        if ((batch.attributes & CONTROL_BATCH) === 0) {
          for (const record of batch.records) {
            const at = batch.firstOffset + BigInt(record.offsetDelta);
            if (at < offset || at >= range.to) continue;
            const headers: Record<string, string> = {};
            for (const [k, v] of record.headers) if (k !== null) headers[k.toString()] = v?.toString() ?? '';
            messages.push({ offset: at, timestamp: batch.firstTimestamp + record.timestampDelta, key: record.key, value: record.value, headers });
          }
        }
        if (batchEnd > next) next = batchEnd;
      }
      if (messages.length > 0) await onChunk(messages);
      if (next <= offset) {
        // Nothing more to read: the range ends past the partition's end.
        if (answer.highWatermark <= offset) return offset;
        throw new Error(`fetch of ${range.topic}/${range.partition} at ${offset} returned nothing below the high watermark ${answer.highWatermark} (a batch larger than ${maxBytes} bytes?)`);
      }
      offset = next < range.to ? next : range.to;
    }
    return offset;
  } finally {
    await client.close(true).catch(() => undefined);
  }
}
