import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '../../config.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { objectStoreSinkConfig } from '../../sinks/registry.ts';
import { createS3Client, ObjectStoreSink } from '../../sinks/object-store/object-store-sink.ts';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { listPartitions, PartitionStats } from '../partitions/partition-stats.ts';
import { compactPartition, liveFiles, readManifest, manifestKey } from './compaction.ts';
import { lakePython } from './lake-python.ts';

const run = promisify(execFile);
const stack = loadStackEnv();
const schema = `lake_compact_${uniqueSuffix()}`;
const config = { ...objectStoreSinkConfig(loadConfig()), bucket: `lake-compact-${uniqueSuffix()}` };
const client = createS3Client(config);
const CHILD = fileURLToPath(new URL('../../../test/support/compaction-child.ts', import.meta.url));
const CHECK = fileURLToPath(new URL('../../../test/support/parquet-check.py', import.meta.url));
let pool: pg.Pool;
let stats: PartitionStats;
let sink: ObjectStoreSink;
let work: string;

const jsonSchema = {
  type: 'object',
  properties: {
    user: { type: 'string' }, amount: { type: 'integer' }, price: { type: ['number', 'null'] }, ok: { type: 'boolean' }, tags: { type: 'array' }, at: { type: 'string', format: 'date-time' },
    // A name SQL must quote: the column keeps it as it is.
    'o\'clock "q"': { type: 'integer' },
  },
};

beforeAll(async () => {
  await migrate(stack.pgUrl, schema);
  pool = createPool(stack.pgUrl, schema);
  stats = new PartitionStats({ pool });
  sink = new ObjectStoreSink({ ...config, stats });
  work = await mkdtemp(join(tmpdir(), 'compaction-test-'));
});

afterAll(async () => {
  await sink.removeBucket().catch(() => undefined);
  await sink.close();
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
  await rm(work, { recursive: true, force: true });
});

function records(name: string, from: number, count: number, time = '2026-05-01T10:00:00Z'): ReturnType<typeof envelope>[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return envelope(name, `c:${i}`, { user: `u${i % 5}`, amount: i, price: i % 3 === 0 ? null : i / 4, ok: i % 2 === 0, tags: [`t${i % 3}`], at: time, 'o\'clock "q"': i % 24, more: { nested: i } }, time);
  });
}

/** What pyarrow (a reader nobody here wrote) finds in the partition's live Parquet files. */
async function readBack(ds: ReturnType<typeof dataset>, partition: string): Promise<{ count: number; distinct: number; sum: number; types: Record<string, string>; compression: string[]; ndjsonLive: number }> {
  const live = await liveFiles(client, config.bucket, ds, partition);
  const paths: string[] = [];
  for (const [i, key] of live.parquet.entries()) {
    const parts: Buffer[] = [];
    for await (const part of await client.getObject(config.bucket, key)) parts.push(part as Buffer);
    const path = join(work, `${uniqueSuffix()}-${i}.parquet`);
    await writeFile(path, Buffer.concat(parts));
    paths.push(path);
  }
  const { stdout } = await run(await lakePython(), [CHECK, ...paths], { env: { ...process.env, SUM_COLUMN: 'amount' } });
  return { ...(JSON.parse(stdout) as { count: number; distinct: number; sum: number; types: Record<string, string>; compression: string[] }), ndjsonLive: live.ndjson.length };
}

const sumTo = (n: number): number => (n * (n - 1)) / 2;

describe('Parquet compaction (real MinIO, PostgreSQL, DuckDB writer, pyarrow reader)', () => {
  it('turns NDJSON segments into typed zstd Parquet that pyarrow reads back equal (count, ids, sum)', async () => {
    const ds = dataset('cmpa', jsonSchema, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
    // Three batches, one a replay-cut duplicate copy of ids 100..149 at other offsets.
    expect((await sink.write(batch(ds, records('cmpa', 0, 200), 0n))).kind).toBe('ok');
    expect((await sink.write(batch(ds, records('cmpa', 200, 300), 200n))).kind).toBe('ok');
    expect((await sink.write(batch(ds, records('cmpa', 100, 50), 5000n))).kind).toBe('ok');
    const partition = 'dt=2026-05-01/hour=10';
    const result = await compactPartition({ client, bucket: config.bucket, dataset: ds, partition, stats, targetFileBytes: 4096, rowGroupRows: 100 });
    expect(result).toMatchObject({ compacted: true, inputFiles: 3, records: 500, duplicates: 50 });
    expect(result.outputFiles).toBeGreaterThan(1);
    const back = await readBack(ds, partition);
    expect(back).toMatchObject({ count: 500, distinct: 500, sum: sumTo(500), ndjsonLive: 0, compression: ['ZSTD'] });
    expect(back.types).toMatchObject({ _id: 'string', amount: 'int64', price: 'double', ok: 'bool', tags: 'string', user: 'string', _extra: 'string', 'o\'clock "q"': 'int64' });
    expect(back.types.at).toMatch(/^timestamp/);
    expect(back.types._event_time).toMatch(/^timestamp/);
    // Statistics follow the swap: the Parquet files only, same record count.
    const [row] = await listPartitions(pool, { dataset: 'cmpa', bucket: config.bucket });
    expect(row).toMatchObject({ partition, files: result.outputFiles, records: 500, minEventTime: '2026-05-01T10:00:00.000Z' });
    // Run again: nothing to do, nothing changes.
    expect(await compactPartition({ client, bucket: config.bucket, dataset: ds, partition, stats })).toMatchObject({ compacted: false });
    expect(await readBack(ds, partition)).toMatchObject({ count: 500, distinct: 500, sum: sumTo(500) });
  });

  it('a partition written to after compaction: new and rewritten segments are live, and the next run takes them in once', async () => {
    const ds = dataset('cmpb', jsonSchema, 1, { objectStore: { enabled: true, partitionBy: 'day' } });
    const partition = 'dt=2026-05-01';
    expect((await sink.write(batch(ds, records('cmpb', 0, 100), 0n))).kind).toBe('ok');
    await compactPartition({ client, bucket: config.bucket, dataset: ds, partition, stats });
    // Late data: a new segment, and a replay that rewrites the compacted segment's key with more records.
    expect((await sink.write(batch(ds, records('cmpb', 100, 20), 100n))).kind).toBe('ok');
    expect((await sink.write(batch(ds, records('cmpb', 0, 130), 0n))).kind).toBe('ok');
    const live = await liveFiles(client, config.bucket, ds, partition);
    expect(live.ndjson.length).toBeGreaterThan(0);
    const result = await compactPartition({ client, bucket: config.bucket, dataset: ds, partition, stats });
    expect(result).toMatchObject({ compacted: true, records: 130 });
    expect(await readBack(ds, partition)).toMatchObject({ count: 130, distinct: 130, sum: sumTo(130), ndjsonLive: 0 });
    const rows = await listPartitions(pool, { dataset: 'cmpb', bucket: config.bucket });
    expect(rows[0]).toMatchObject({ records: 130 });
  });

  for (const stopAt of ['files-written', 'manifest-written'] as const) {
    it(`kill -9 at ${stopAt}, run again: every record exactly once`, async () => {
      const name = stopAt === 'files-written' ? 'cmpk' : 'cmpm';
      const ds = dataset(name, jsonSchema, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
      const partition = 'dt=2026-05-01/hour=10';
      for (let b = 0; b < 4; b++) expect((await sink.write(batch(ds, records(name, b * 250, 250), BigInt(b * 250)))).kind).toBe('ok');
      const child = spawn(process.execPath, [CHILD], {
        env: { ...process.env, COMPACTION_JOB: JSON.stringify({ s3: config, bucket: config.bucket, dataset: ds, partition, stopAt }) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes(`STEP ${stopAt}`)) resolve();
        });
        child.on('exit', (code) => reject(new Error(`child ended early (${code})`)));
      });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      const manifest = await readManifest(client, config.bucket, manifestKey(ds, partition));
      if (stopAt === 'files-written') {
        // Killed before the swap: readers still see the NDJSON only.
        expect(manifest).toBeUndefined();
        expect((await liveFiles(client, config.bucket, ds, partition)).ndjson.length).toBe(4);
      } else expect(manifest?.records).toBe(1000);
      const result = await compactPartition({ client, bucket: config.bucket, dataset: ds, partition, stats, targetFileBytes: 4096 });
      expect(result.compacted).toBe(stopAt === 'files-written');
      expect(await readBack(ds, partition)).toMatchObject({ count: 1000, distinct: 1000, sum: sumTo(1000), ndjsonLive: 0 });
      // No leftovers: only the live Parquet files and the manifest remain in the partition folder.
      const names: string[] = [];
      for await (const item of client.listObjectsV2(config.bucket, `${name}/${partition}/`, true) as AsyncIterable<{ name: string }>) names.push(item.name);
      const after = await readManifest(client, config.bucket, manifestKey(ds, partition));
      expect(names.sort()).toEqual([...after!.files.map((f) => f.key), manifestKey(ds, partition)].sort());
      expect((await listPartitions(pool, { dataset: name, bucket: config.bucket }))[0]).toMatchObject({ records: 1000, files: after!.files.length });
    });
  }
});
