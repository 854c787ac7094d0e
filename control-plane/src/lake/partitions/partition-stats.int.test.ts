import { gunzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '../../config.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { objectStoreSinkConfig } from '../../sinks/registry.ts';
import { createS3Client, ObjectStoreSink } from '../../sinks/object-store/object-store-sink.ts';
import { fnv1a } from '../../sinks/object-store/object-keys.ts';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { listPartitions, PartitionStats } from './partition-stats.ts';

const stack = loadStackEnv();
const schema = `lake_stats_${uniqueSuffix()}`;
const config = { ...objectStoreSinkConfig(loadConfig()), bucket: `lake-stats-${uniqueSuffix()}` };
const client = createS3Client(config);
let pool: pg.Pool;
let sink: ObjectStoreSink;

beforeAll(async () => {
  await migrate(stack.pgUrl, schema);
  pool = createPool(stack.pgUrl, schema);
  sink = new ObjectStoreSink({ ...config, stats: new PartitionStats({ pool }) });
});

afterAll(async () => {
  await sink.removeBucket().catch(() => undefined);
  await sink.close();
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

/** Partition statistics computed from the store itself: list the objects and count the lines in each. */
async function fromStore(prefix: string): Promise<Map<string, { files: number; records: number; bytes: number }>> {
  const out = new Map<string, { files: number; records: number; bytes: number }>();
  for await (const item of client.listObjectsV2(config.bucket, `${prefix}/`, true) as AsyncIterable<{ name: string; size: number }>) {
    const parts: Buffer[] = [];
    for await (const part of await client.getObject(config.bucket, item.name)) parts.push(part as Buffer);
    const records = gunzipSync(Buffer.concat(parts)).toString('utf8').trimEnd().split('\n').length;
    const partition = item.name.slice(prefix.length + 1, item.name.lastIndexOf('/'));
    const stat = out.get(partition) ?? { files: 0, records: 0, bytes: 0 };
    out.set(partition, { files: stat.files + 1, records: stat.records + records, bytes: stat.bytes + item.size });
  }
  return out;
}

async function fromStats(name: string): Promise<Map<string, { files: number; records: number; bytes: number }>> {
  const rows = await listPartitions(pool, { dataset: name, bucket: config.bucket });
  return new Map(rows.map((r) => [r.partition, { files: r.files, records: r.records, bytes: r.bytes }]));
}

describe('partition statistics maintained by the object-store sink (real MinIO + PostgreSQL)', () => {
  it('equal what the store holds after loads, replays and a differently cut replay', async () => {
    const ds = dataset('lakestats', {}, 1, { objectStore: { enabled: true, partitionBy: 'day', hash: { field: 'user', buckets: 4 } } });
    const days = ['2026-03-01T10:00:00Z', '2026-03-02T23:59:59Z', '2026-03-03T00:00:00Z'];
    const envelopes = Array.from({ length: 300 }, (_, i) => envelope('lakestats', `s:${i}`, { user: `u${i % 7}`, n: i }, days[i % 3]));
    expect((await sink.write(batch(ds, envelopes.slice(0, 200), 0n))).kind).toBe('ok');
    expect((await sink.write(batch(ds, envelopes.slice(200), 200n))).kind).toBe('ok');
    const once = await fromStats('lakestats');
    expect(once).toEqual(await fromStore('lakestats'));
    expect([...once.values()].reduce((a, s) => a + s.records, 0)).toBe(300);

    // A replay of the same batch: same keys, same rows, no double count.
    expect((await sink.write(batch(ds, envelopes.slice(0, 200), 0n))).kind).toBe('ok');
    // A replay cut differently (the crash came between two uncommitted batches): 0..249 then 250..299.
    expect((await sink.write(batch(ds, envelopes.slice(0, 250), 0n))).kind).toBe('ok');
    expect((await sink.write(batch(ds, envelopes.slice(250), 250n))).kind).toBe('ok');
    const after = await fromStats('lakestats');
    expect(after).toEqual(await fromStore('lakestats'));
    expect([...after.values()].reduce((a, s) => a + s.records, 0)).toBe(300);
  });

  it('keeps min/max event time and last write per partition, filters by prefix and pages', async () => {
    const ds = dataset('lakestats2', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    const times = ['2026-04-01T10:05:00Z', '2026-04-01T10:55:00Z', '2026-04-01T11:30:00Z', '2026-04-02T00:01:00Z'];
    expect((await sink.write(batch(ds, times.map((t, i) => envelope('lakestats2', `t:${i}`, { i }, t)), 0n))).kind).toBe('ok');
    const all = await listPartitions(pool, { dataset: 'lakestats2' });
    expect(all.map((p) => p.partition)).toEqual(['dt=2026-04-01/hour=10', 'dt=2026-04-01/hour=11', 'dt=2026-04-02/hour=00']);
    expect(all[0]).toMatchObject({ files: 1, records: 2, minEventTime: '2026-04-01T10:05:00.000Z', maxEventTime: '2026-04-01T10:55:00.000Z' });
    expect(Date.parse(all[0]!.lastWrite)).toBeGreaterThan(Date.now() - 60_000);
    expect((await listPartitions(pool, { dataset: 'lakestats2', prefix: 'dt=2026-04-01' })).length).toBe(2);
    const page1 = await listPartitions(pool, { dataset: 'lakestats2', limit: 2 });
    const page2 = await listPartitions(pool, { dataset: 'lakestats2', limit: 2, after: page1.at(-1)!.partition });
    expect([...page1, ...page2].map((p) => p.partition)).toEqual(all.map((p) => p.partition));
  });

  it('lands every record of a day + hash + range spec in the partition its event time and values name', async () => {
    const ds = dataset('lakeland', {}, 1, { objectStore: { enabled: true, partitionBy: 'day', hash: { field: 'user', buckets: 4 }, range: { field: 'amount', bounds: [100, 0, 50] } } });
    const days = ['2026-03-01T00:00:00Z', '2026-03-01T23:59:59Z', '2026-03-02T12:00:00Z'];
    // Amounts on both sides of every bound, on the bounds themselves, and one that is no number.
    const amounts = [-1, 0, 49.9, 50, 99, 100, 1e6, 'n/a'];
    const envelopes = Array.from({ length: 240 }, (_, i) => envelope('lakeland', `l:${i}`, { user: `u${i % 9}`, amount: amounts[i % amounts.length] }, days[i % 3]));
    expect((await sink.write(batch(ds, envelopes, 0n))).kind).toBe('ok');
    // Where each record should be, worked out here from the spec (bounds sorted: 0, 50, 100).
    const range = (amount: unknown): string => {
      if (typeof amount !== 'number') return 'range=null';
      if (amount < 0) return 'range=lt_0';
      if (amount >= 100) return 'range=ge_100';
      return amount < 50 ? 'range=0_50' : 'range=50_100';
    };
    const expected = new Map(envelopes.map((e) => {
      const p = e.payload as { user: string; amount: unknown };
      return [e.id, `dt=${e.eventTime.slice(0, 10)}/bucket=${fnv1a(JSON.stringify(p.user)) % 4}/${range(p.amount)}`];
    }));
    const found = new Map<string, string>();
    for await (const item of client.listObjectsV2(config.bucket, 'lakeland/', true) as AsyncIterable<{ name: string }>) {
      const parts: Buffer[] = [];
      for await (const part of await client.getObject(config.bucket, item.name)) parts.push(part as Buffer);
      const partition = item.name.slice('lakeland/'.length, item.name.lastIndexOf('/'));
      for (const line of gunzipSync(Buffer.concat(parts)).toString('utf8').trimEnd().split('\n')) found.set((JSON.parse(line) as { id: string }).id, partition);
    }
    expect(found).toEqual(expected);
    // The data reaches every range and more than one bucket, so the check above means something.
    expect(new Set([...found.values()].map((p) => p.split('/')[2]))).toEqual(new Set(['range=lt_0', 'range=0_50', 'range=50_100', 'range=ge_100', 'range=null']));
    expect(new Set([...found.values()].map((p) => p.split('/')[1])).size).toBeGreaterThan(1);
    // The statistics name the same partitions with the same counts.
    const counts = new Map<string, number>();
    for (const partition of expected.values()) counts.set(partition, (counts.get(partition) ?? 0) + 1);
    expect(new Map([...(await fromStats('lakeland'))].map(([p, s]) => [p, s.records]))).toEqual(counts);
  });
});
