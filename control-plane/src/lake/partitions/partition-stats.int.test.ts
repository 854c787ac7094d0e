import { gunzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '../../config.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { objectStoreSinkConfig } from '../../sinks/registry.ts';
import { createS3Client, ObjectStoreSink } from '../../sinks/object-store/object-store-sink.ts';
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
});
