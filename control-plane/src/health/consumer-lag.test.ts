import { describe, expect, it } from 'vitest';
import type { PartitionPosition } from '@sluice/shared/node/kafka-timestamps';
import { ConsumerLagReader, type LagSource } from './consumer-lag.ts';

function source(partitions: Array<{ partition: number; lag: bigint; committed: bigint }>, stamps: Map<number, bigint>) {
  const calls = { lag: 0, asked: [] as PartitionPosition[][] };
  const lagSource: LagSource = {
    lag: () => {
      calls.lag++;
      return Promise.resolve(partitions.map((p) => ({ topic: 'sluice.a', ...p })));
    },
    timestampsAt: (positions) => {
      calls.asked.push([...positions]);
      return Promise.resolve(positions.map((p) => stamps.get(p.partition)));
    },
  };
  return { lagSource, calls };
}

describe('ConsumerLagReader', () => {
  it('gives each lagging partition the age of its oldest waiting record, 0 where nothing waits, null where unreadable', async () => {
    const { lagSource, calls } = source(
      [
        { partition: 0, lag: 5n, committed: 100n },
        { partition: 1, lag: 0n, committed: 7n },
        { partition: 2, lag: 3n, committed: 40n },
      ],
      new Map([[0, 10_000n]]),
    );
    const reader = new ConsumerLagReader({ source: lagSource, now: () => 12_500 });
    expect(await reader.read()).toEqual([
      { topic: 'sluice.a', partition: 0, records: 5, seconds: 2.5 },
      { topic: 'sluice.a', partition: 1, records: 0, seconds: 0 },
      { topic: 'sluice.a', partition: 2, records: 3, seconds: null },
    ]);
    // Only lagging partitions are read, at the group's committed offset, the most behind first.
    expect(calls.asked).toEqual([[{ topic: 'sluice.a', partition: 0, offset: 100n }, { topic: 'sluice.a', partition: 2, offset: 40n }]]);
  });

  it('serves one read to every caller for its ttl, reads again after it, and never caches a failure', async () => {
    let clock = 0;
    const { lagSource, calls } = source([{ partition: 0, lag: 1n, committed: 0n }], new Map([[0, 0n]]));
    let failNext = true;
    const flaky: LagSource = { ...lagSource, lag: () => (failNext ? ((failNext = false), Promise.reject(new Error('broker away'))) : lagSource.lag()) };
    const reader = new ConsumerLagReader({ source: flaky, ttlMs: 5_000, now: () => clock });
    await expect(reader.read()).rejects.toThrow('broker away');
    await reader.read();
    clock = 4_999;
    expect((await reader.read())[0]?.seconds).toBe(0);
    expect(calls.lag).toBe(1);
    clock = 5_000;
    expect((await reader.read())[0]?.seconds).toBe(5);
    expect(calls.lag).toBe(2);
  });

  it('reads the age of at most maxPartitions partitions per read', async () => {
    const { lagSource, calls } = source(
      [1n, 9n, 4n].map((lag, partition) => ({ partition, lag, committed: 0n })),
      new Map(),
    );
    await new ConsumerLagReader({ source: lagSource, maxPartitions: 2 }).read();
    expect(calls.asked[0]?.map((p) => p.partition)).toEqual([1, 2]);
  });
});
