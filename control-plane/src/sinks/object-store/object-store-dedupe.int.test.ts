import { gunzipSync } from 'node:zlib';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Envelope } from '@sluice/shared/envelope';
import { createLogger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '../../config.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { objectStoreSinkConfig } from '../registry.ts';
import type { SinkBatch } from '../sink.ts';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { objectStoreUnderTest } from '../../../test/support/object-store-under-test.ts';
import { describeSinkConformance } from '../../../test/support/sink-conformance.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.ts';
import { IdLedger, type IdLedgerOptions } from './id-ledger.ts';
import { createS3Client, ObjectStoreSink, type ObjectStoreSinkConfig } from './object-store-sink.ts';

const stack = loadStackEnv();
const schema = `os_dedupe_${uniqueSuffix()}`;
const config = { ...objectStoreSinkConfig(loadConfig()), bucket: `dedupe-test-${uniqueSuffix()}` };
const client = createS3Client(config);
const logger = createLogger('object-store-dedupe-test', { level: 'warn' });
let pool: pg.Pool;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  await migrate(stack.pgUrl, schema);
  pool = createPool(stack.pgUrl, schema);
});

afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await new ObjectStoreSink(config).removeBucket().catch(() => undefined);
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

/** A sink with a ledger in this file's schema; `pgUrl` and `s3` let a test route either through a proxy. */
function sinkWith(options: { pgUrl?: string; s3?: Partial<ObjectStoreSinkConfig>; ledger?: Partial<IdLedgerOptions> } = {}): { sink: ObjectStoreSink; ledger: IdLedger } {
  const ledger = new IdLedger({ pool: createPool(options.pgUrl ?? stack.pgUrl, schema, 4), ownsPool: true, logger, ...options.ledger });
  const sink = new ObjectStoreSink({ ...config, ...options.s3, ledger, logger });
  closers.push(() => sink.close());
  return { sink, ledger };
}

/** Its own dataset (so its own ledger rows) and object prefix per test. */
function testDataset() {
  const name = `orders_${uniqueSuffix()}`;
  return dataset(name, {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });
}

async function objects(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const item of client.listObjectsV2(config.bucket, `${prefix}/`, true) as AsyncIterable<{ name?: string }>) if (item.name) names.push(item.name);
  return names.sort();
}
async function read(key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await client.getObject(config.bucket, key)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}
/** Every record id stored under the prefix, duplicates kept, sorted. */
async function storedIds(prefix: string): Promise<string[]> {
  const ids: string[] = [];
  for (const name of await objects(prefix)) {
    for (const line of gunzipSync(await read(name)).toString('utf8').split('\n')) if (line !== '') ids.push((JSON.parse(line) as Envelope).id);
  }
  return ids.sort();
}
function at(b: SinkBatch, offset: bigint, topic: string, partition: number): SinkBatch {
  return batch(b.dataset, b.records.map((r) => r.envelope), offset, topic, partition);
}
async function ledgerRows(ds: string): Promise<Array<{ record_id: string; partition: number; offset: string }>> {
  const { rows } = await pool.query<{ record_id: string; partition: number; offset: string }>(
    'SELECT record_id, partition, "offset"::text AS offset FROM object_store_ids WHERE dataset = $1 ORDER BY record_id',
    [ds],
  );
  return rows;
}
function s3Through(proxy: TcpProxy): Partial<ObjectStoreSinkConfig> {
  return { endpoint: `http://127.0.0.1:${proxy.port}` };
}
function pgThrough(proxy: TcpProxy): string {
  const url = new URL(stack.pgUrl);
  url.port = String(proxy.port);
  return url.toString();
}
async function proxyTo(endpoint: string, onClientData?: (chunk: Buffer) => void): Promise<TcpProxy> {
  const url = new URL(endpoint);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) }, onClientData);
  closers.push(() => proxy.close());
  return proxy;
}

describe('ObjectStoreSink with its id ledger, against the real MinIO and PostgreSQL', () => {
  it('stores a record once when it arrives again at another offset or partition, and once within a batch', async () => {
    const { sink } = sinkWith();
    const ds = testDataset();
    const name = ds.spec.name;
    const first = batch(ds, [envelope(name, 'a', { n: 1 }, '2026-04-01T10:00:00Z'), envelope(name, 'b', { n: 2 }, '2026-04-01T11:00:00Z')], 100n, 'sluice.orders', 0);
    expect(await sink.write(first)).toEqual({ kind: 'ok', rejected: [] });
    // An agent re-sends a and b after a restart (same partition, later offsets) with a new record c, then a
    // client retries b on another partition, with b twice in one batch.
    const resend = batch(ds, [envelope(name, 'a', { n: 1 }, '2026-04-01T10:00:00Z'), envelope(name, 'b', { n: 2 }, '2026-04-01T11:00:00Z'), envelope(name, 'c', { n: 3 }, '2026-04-01T10:30:00Z')], 200n, 'sluice.orders', 0);
    expect((await sink.write(resend)).kind).toBe('ok');
    const retry = batch(ds, [envelope(name, 'b', { n: 2 }), envelope(name, 'd', { n: 4 }), envelope(name, 'd', { n: 4 })], 50n, 'sluice.orders', 3);
    expect((await sink.write(retry)).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(['a', 'b', 'c', 'd']);
    expect((await ledgerRows(name)).map((r) => [r.record_id, r.partition, r.offset])).toEqual([
      ['a', 0, '100'],
      ['b', 0, '101'],
      ['c', 0, '202'],
      ['d', 3, '51'],
    ]);
  });

  it('writes the copy the ledger names when a replay joins it with an earlier copy in one batch', async () => {
    const { sink } = sinkWith();
    const ds = testDataset();
    const name = ds.spec.name;
    const records = Array.from({ length: 12 }, (_, i) => envelope(name, i === 10 ? 'r2' : `r${i}`, { i }, '2026-04-07T08:00:00Z'));
    // Two batches were in flight, [0, 5) and [5, 12), and the later one claimed r2 (at offset 10) first.
    expect((await sink.write(batch(ds, records.slice(5), 5n, 'sluice.orders', 0))).kind).toBe('ok');
    expect((await sink.write(batch(ds, records.slice(0, 5), 0n, 'sluice.orders', 0))).kind).toBe('ok');
    // Neither was committed: the replay reads [0, 12) as one batch, superseding the object at offset 5.
    const { sink: fresh } = sinkWith();
    expect((await fresh.write(batch(ds, records, 0n, 'sluice.orders', 0))).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(records.filter((_, i) => i !== 10).map((e) => e.id).sort());
    expect((await ledgerRows(name)).find((r) => r.record_id === 'r2')).toMatchObject({ partition: 0, offset: '10' });
  });

  it('rewrites the same objects with the same bytes when a batch holding duplicates is replayed', async () => {
    const { sink } = sinkWith();
    const ds = testDataset();
    const name = ds.spec.name;
    const earlier = batch(ds, Array.from({ length: 10 }, (_, i) => envelope(name, `e${i}`, { i }, '2026-04-02T08:00:00Z')), 10n, 'sluice.orders', 1);
    expect((await sink.write(earlier)).kind).toBe('ok');
    // Every other record of this batch is a copy of one of `earlier`'s, and its first record is one.
    const mixed = batch(ds, Array.from({ length: 10 }, (_, i) => envelope(name, i % 2 === 0 ? `e${i}` : `m${i}`, { i }, '2026-04-02T08:00:00Z')), 500n, 'sluice.orders', 2);
    expect((await sink.write(mixed)).kind).toBe('ok');
    const before = await objects(name);
    const bytes = await Promise.all(before.map(read));
    // The consumer died before committing: a fresh sink replays the same batch.
    const { sink: fresh } = sinkWith();
    expect((await fresh.write(mixed)).kind).toBe('ok');
    expect(await objects(name)).toEqual(before);
    const after = await Promise.all(before.map(read));
    expect(after.map((b, i) => b.equals(bytes[i]!))).toEqual(before.map(() => true));
    expect(before.some((key) => key.endsWith('part-sluice.orders-2-00000000000000000500.ndjson.gz'))).toBe(true);
    expect(await storedIds(name)).toEqual([...Array.from({ length: 10 }, (_, i) => `e${i}`), 'm1', 'm3', 'm5', 'm7', 'm9'].sort());
  });

  it('claims nothing when the segment put fails, so a copy at another offset lands, and the replay then leaves it out', async () => {
    const s3 = await proxyTo(config.endpoint);
    const { sink: dying } = sinkWith({ s3: s3Through(s3) });
    const ds = testDataset();
    const name = ds.spec.name;
    expect(await dying.prepare(ds)).toEqual({ kind: 'ok' });
    const original = batch(ds, [envelope(name, 'x', {}, '2026-04-03T09:00:00Z'), envelope(name, 'y', {}, '2026-04-03T09:00:00Z')], 300n, 'sluice.orders', 0);
    s3.cut();
    // Claimed inside the transaction, then the put fails: the claim is rolled back with it.
    expect((await dying.write(original)).kind).toBe('retryable');
    expect(await ledgerRows(name)).toEqual([]);
    expect(await objects(name)).toEqual([]);
    // Say that batch is dead-lettered and replayed from the DLQ at offset 900, or a copy of x arrives there.
    const { sink: other } = sinkWith();
    expect((await other.write(batch(ds, [original.records[0]!.envelope], 900n, 'sluice.orders', 5))).kind).toBe('ok');
    // The first batch is replayed from its committed offset by a fresh consumer: x is 900's now.
    const { sink: fresh } = sinkWith();
    expect((await fresh.write(original)).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(['x', 'y']);
  });

  it('converges to once when the put landed but the claim was never committed', async () => {
    const pgProxy = await proxyTo(`http://${new URL(stack.pgUrl).host}`);
    let armed = false;
    // PostgreSQL is cut the moment the segment upload starts: the put lands, the COMMIT cannot.
    const s3 = await proxyTo(config.endpoint, (chunk) => {
      if (armed && chunk.subarray(0, 4).toString('latin1') === 'PUT ') pgProxy.cut();
    });
    const { sink: dying } = sinkWith({ pgUrl: pgThrough(pgProxy), s3: s3Through(s3) });
    const ds = testDataset();
    const name = ds.spec.name;
    expect(await dying.prepare(ds)).toEqual({ kind: 'ok' });
    const original = batch(ds, [envelope(name, 'p', {}, '2026-04-04T09:00:00Z'), envelope(name, 'q', {}, '2026-04-04T09:00:00Z'), envelope(name, 'r', {}, '2026-04-04T10:00:00Z')], 40n, 'sluice.orders', 0);
    armed = true;
    const result = await dying.write(original);
    expect(result.kind).toBe('retryable');
    expect(result.kind === 'retryable' && result.reason).toMatch(/ledger/);
    expect(await storedIds(name)).toEqual(['p', 'q', 'r']);
    expect(await ledgerRows(name)).toEqual([]);
    // Meanwhile copies of p and r at another position claim them and are written: both are stored twice now.
    const { sink: other } = sinkWith();
    expect((await other.write(batch(ds, [original.records[0]!.envelope, original.records[2]!.envelope], 7n, 'sluice.orders', 4))).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(['p', 'p', 'q', 'r', 'r']);
    // The uncommitted batch is replayed: the same keys, rewritten without the records the copies own; the
    // 10:00 segment, left empty, is removed.
    const { sink: fresh } = sinkWith();
    expect((await fresh.write(original)).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(['p', 'q', 'r']);
    expect((await ledgerRows(name)).map((r) => [r.record_id, r.partition, r.offset])).toEqual([
      ['p', 4, '7'],
      ['q', 0, '41'],
      ['r', 4, '8'],
    ]);
  });

  it('lets the first writer win when batches of different partitions share ids at the same time, without deadlocks', async () => {
    const ds = testDataset();
    const name = ds.spec.name;
    const sinks = [sinkWith().sink, sinkWith().sink, sinkWith().sink];
    const shared = Array.from({ length: 20 }, (_, i) => `s${i}`);
    for (let round = 0; round < 5; round++) {
      // Each batch holds the shared ids in a different order, plus ids of its own.
      const batches = sinks.map((_, k) => {
        const ids = [...(k % 2 === 0 ? shared : [...shared].reverse()).map((id) => `${round}:${id}`), ...Array.from({ length: 30 }, (_, i) => `${round}:own${k}-${i}`)];
        return batch(ds, ids.map((id) => envelope(name, id, { round }, '2026-04-05T12:00:00Z')), BigInt(1000 * round), 'sluice.orders', k);
      });
      const results = await Promise.all(batches.map((b, k) => sinks[k]!.write(b)));
      expect(results.map((r) => r.kind)).toEqual(['ok', 'ok', 'ok']);
    }
    const ids = await storedIds(name);
    expect(ids).toHaveLength(new Set(ids).size);
    expect(ids).toHaveLength(5 * (20 + 3 * 30));
  });

  it('answers retryable and writes nothing while the ledger database is unreachable', async () => {
    const closed = await proxyTo(`http://${new URL(stack.pgUrl).host}`);
    closed.cut();
    const { sink } = sinkWith({ pgUrl: pgThrough(closed) });
    const ds = testDataset();
    const result = await sink.write(batch(ds, [envelope(ds.spec.name, 'u', {})], 1n));
    expect(result.kind).toBe('retryable');
    expect(await objects(ds.spec.name)).toEqual([]);
  });

  it('forgets ids older than the retention window in bounded chunks; a copy arriving later is stored again', async () => {
    const { sink, ledger } = sinkWith({ ledger: { retentionMs: 24 * 3600 * 1000, pruneChunk: 2, pruneBudgetMs: 0 } });
    const ds = testDataset();
    const name = ds.spec.name;
    const old = batch(ds, ['o1', 'o2', 'o3'].map((id) => envelope(name, id, {}, '2026-04-06T00:00:00Z')), 0n, 'sluice.orders', 0);
    expect((await sink.write(old)).kind).toBe('ok');
    expect((await sink.write(batch(ds, [envelope(name, 'fresh', {}, '2026-04-06T00:00:00Z')], 10n))).kind).toBe('ok');
    await pool.query("UPDATE object_store_ids SET claimed_at = now() - interval '2 days' WHERE dataset = $1 AND record_id LIKE 'o%'", [name]);
    // One chunk per run when the time budget is spent at once: a run never holds the table for long.
    expect(await ledger.prune()).toBe(2);
    expect(await ledger.prune()).toBe(1);
    expect(await ledger.prune()).toBe(0);
    expect((await ledgerRows(name)).map((r) => r.record_id)).toEqual(['fresh']);
    expect((await sink.write(at(old, 5000n, 'sluice.orders', 1))).kind).toBe('ok');
    expect(await storedIds(name)).toEqual(['fresh', 'o1', 'o1', 'o2', 'o2', 'o3', 'o3']);
  });
});

// The sink as production builds it, with its ledger in this file's schema.
describeSinkConformance('object-store with its id ledger', {
  store: { host: new URL(config.endpoint).hostname, port: Number(new URL(config.endpoint).port) },
  create: (via) => Promise.resolve(objectStoreUnderTest(config, via, () => new IdLedger({ pool: createPool(stack.pgUrl, schema, 4), ownsPool: true, logger }))),
});
