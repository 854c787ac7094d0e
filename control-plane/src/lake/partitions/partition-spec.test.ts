import { describe, expect, it } from 'vitest';
import { batch, dataset, envelope } from '../../../test/support/sink-fixtures.ts';
import { rangePartition, segmentBatch } from '../../sinks/object-store/object-keys.ts';
import { partitionFields } from './partition-spec.ts';

describe('lake partition specs', () => {
  it('range partitions a numeric field against its declared bounds', () => {
    const bounds = [0, 100, 1000];
    expect(rangePartition({ amount: -5 }, 'amount', bounds)).toBe('range=lt_0');
    expect(rangePartition({ amount: 0 }, 'amount', bounds)).toBe('range=0_100');
    expect(rangePartition({ amount: 99.5 }, 'amount', bounds)).toBe('range=0_100');
    expect(rangePartition({ amount: 100 }, 'amount', bounds)).toBe('range=100_1000');
    expect(rangePartition({ amount: 1000 }, 'amount', bounds)).toBe('range=ge_1000');
    expect(rangePartition({ amount: '7' }, 'amount', bounds)).toBe('range=null');
    expect(rangePartition({ a: { b: 150 } }, 'a.b', [1000, 0, 100])).toBe('range=100_1000');
  });

  it('lands day + hash + range combinations under event time, and keeps the old keys without range', () => {
    const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'day', hash: { field: 'user', buckets: 8 }, range: { field: 'amount', bounds: [0, 100] } } });
    const { segments } = segmentBatch(batch(ds, [envelope('orders', 'a', { user: 'ann', amount: 50 }, '2026-03-01T23:00:00Z'), envelope('orders', 'b', { user: 'ann', amount: 500 }, '2026-03-02T01:00:00Z')], 7n));
    expect(segments.map((s) => s.key)).toEqual([
      expect.stringMatching(/^orders\/dt=2026-03-01\/bucket=\d\/range=0_100\/part-sluice\.orders-0-00000000000000000007\.ndjson\.gz$/),
      expect.stringMatching(/^orders\/dt=2026-03-02\/bucket=\d\/range=ge_100\/part-sluice\.orders-0-00000000000000000008\.ndjson\.gz$/),
    ]);
    const old = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    expect(segmentBatch(batch(old, [envelope('orders', 'a', {}, '2026-03-01T23:00:00Z')], 7n)).segments[0]!.key).toBe('orders/dt=2026-03-01/hour=23/part-sluice.orders-0-00000000000000000007.ndjson.gz');
  });

  it('maps specs to Iceberg-style transforms', () => {
    const spec = { name: 'o', sinks: { objectStore: { enabled: true, partitionBy: 'hour' as const, hash: { field: 'user', buckets: 16 }, range: { field: 'n', bounds: [0, 10, 20] } } } };
    expect(partitionFields(spec).map((f) => [f.name, f.source, f.transform])).toEqual([
      ['dt', 'eventTime', 'day'], ['hour', 'eventTime', 'hour'], ['bucket', 'user', 'bucket[16]'], ['range', 'n', 'truncate[10]'],
    ]);
    expect(partitionFields({ name: 'o', sinks: { objectStore: { enabled: true, partitionBy: 'hour' as const, range: { field: 'n', bounds: [0, 10, 50] } } } }).at(-1)!.transform).toBe('void');
    expect(partitionFields({ name: 'o', sinks: {} })).toEqual([]);
  });
});
