import { describe, expect, it } from 'vitest';
import { batch, dataset, envelope } from '../../../test/support/sink-fixtures.ts';
import { fnv1a, hashBucket, leaveOut, padOffset, segmentBatch, timePartition } from './object-keys.ts';
import { isPermanentS3Error } from './s3-errors.ts';

describe('object keys', () => {
  it('pads offsets to 20 digits so listings sort by offset', () => {
    expect(padOffset(42n)).toBe('00000000000000000042');
    expect(padOffset(9223372036854775807n)).toBe('09223372036854775807');
    expect([padOffset(100n), padOffset(9n)].sort()).toEqual([padOffset(9n), padOffset(100n)]);
  });
  it('derives the UTC time partition by day or hour', () => {
    expect(timePartition('2026-03-01T23:30:00-02:00', 'hour')).toBe('dt=2026-03-02/hour=01');
    expect(timePartition('2026-03-01T10:15:00Z', 'day')).toBe('dt=2026-03-01');
    expect(timePartition('garbage', 'day')).toBeUndefined();
  });
  it('hashes a field value into a stable bucket', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(hashBucket({ user: { id: 'u1' } }, 'user.id', 16)).toBe(`bucket=${fnv1a('"u1"') % 16}`);
    expect(hashBucket({}, 'user.id', 16)).toBe(`bucket=${fnv1a('null') % 16}`);
  });
  it('splits a batch per time partition with keys from topic, partition and offsets', () => {
    const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    const b = batch(
      ds,
      [
        envelope('orders', 'a', {}, '2026-03-01T10:59:59Z'),
        envelope('orders', 'b', {}, '2026-03-01T11:00:00Z'),
        envelope('orders', 'c', {}, '2026-03-01T10:00:00Z'),
        envelope('orders', 'd', {}, 'bad'),
      ],
      1000n,
      'sluice.orders',
      3,
    );
    b.records[3]!.envelope.ingestTime = 'also bad';
    const { segments, rejected } = segmentBatch(b);
    expect(segments.map((s) => [s.key, s.records.map((r) => r.envelope.id)])).toEqual([
      ['orders/dt=2026-03-01/hour=10/part-sluice.orders-3-00000000000000001000.ndjson.gz', ['a', 'c']],
      ['orders/dt=2026-03-01/hour=11/part-sluice.orders-3-00000000000000001001.ndjson.gz', ['b']],
    ]);
    expect(rejected.map((r) => r.id)).toEqual(['d']);
    expect(segmentBatch(b).segments.map((s) => s.key)).toEqual(segments.map((s) => s.key));
  });
  it('gives a replay from the committed offset the same keys, whether it ends earlier or later', () => {
    const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    const times = ['2026-03-01T10:00:00Z', '2026-03-01T10:30:00Z', '2026-03-01T11:00:00Z', '2026-03-01T11:30:00Z'];
    const all = times.map((t, i) => envelope('orders', `r${i}`, {}, t));
    // Records [from, to) of the partition, read from offset 500 + from: what the store holds per key.
    const write = (from: number, to: number) =>
      segmentBatch(batch(ds, all.slice(from, to), BigInt(500 + from), 'sluice.orders', 2)).segments.map(
        (s) => [s.key, s.records.map((r) => r.envelope.id)] as const,
      );
    const storeAfter = (...writes: ReturnType<typeof write>[]) => [...new Map(writes.flat()).values()].flat().sort();

    // Crash after writing [0, 4) uncommitted; the replay from 500 ends earlier, the next batch takes the rest.
    expect(storeAfter(write(0, 4), write(0, 3), write(3, 4))).toEqual(['r0', 'r1', 'r2', 'r3']);
    // Crash after writing [0, 3) uncommitted; the replay from 500 reaches further.
    expect(storeAfter(write(0, 3), write(0, 4))).toEqual(['r0', 'r1', 'r2', 'r3']);
  });
  it('leaves duplicates out of segments without changing their keys or offset ranges', () => {
    const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    const b = batch(ds, ['a', 'b', 'c'].map((id) => envelope('orders', id, {}, '2026-03-01T10:00:00Z')), 40n, 'sluice.orders', 1);
    const segments = segmentBatch(b).segments;
    const [kept] = leaveOut(segments, new Set([b.records[0]!, b.records[2]!]));
    expect(kept!.records.map((r) => r.envelope.id)).toEqual(['b']);
    expect([kept!.key, kept!.firstOffset, kept!.lastOffset]).toEqual([segments[0]!.key, 40n, 42n]);
    expect(kept!.key.endsWith('-00000000000000000040.ndjson.gz')).toBe(true);
  });
  it('uses the configured prefix, day partitioning and the hash level', () => {
    const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, prefix: 'raw/orders', partitionBy: 'day', hash: { field: 'user', buckets: 4 } } });
    const { segments } = segmentBatch(batch(ds, [envelope('orders', 'a', { user: 'ann' })], 7n, 'sluice.orders', 0));
    expect(segments[0]!.key).toBe(`raw/orders/dt=2026-03-01/${hashBucket({ user: 'ann' }, 'user', 4)}/part-sluice.orders-0-00000000000000000007.ndjson.gz`);
  });
});

describe('S3 error classification', () => {
  it('fails on credentials and permissions, retries the rest', () => {
    expect(isPermanentS3Error(Object.assign(new Error('x'), { code: 'AccessDenied' }))).toBe(true);
    expect(isPermanentS3Error(Object.assign(new Error('x'), { code: 'SlowDown' }))).toBe(false);
    expect(isPermanentS3Error(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isPermanentS3Error(new Error('socket hang up'))).toBe(false);
  });
});
