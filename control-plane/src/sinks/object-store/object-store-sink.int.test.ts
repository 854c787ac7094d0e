import { createHash, randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOB_CHUNK_BYTES, type Envelope } from '@sluice/shared/envelope';
import { batch, dataset, envelope, uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { describeSinkConformance } from '../../../test/support/sink-conformance.ts';
import { objectStoreUnderTest } from '../../../test/support/object-store-under-test.ts';
import { loadConfig } from '../../config.ts';
import { objectStoreSinkConfig } from '../registry.ts';
import { createS3Client, ObjectStoreSink } from './object-store-sink.ts';

const config = { ...objectStoreSinkConfig(loadConfig()), bucket: `sink-test-${uniqueSuffix()}` };
const sink = new ObjectStoreSink(config);
const client = createS3Client(config);
const ds = dataset('orders', {}, 1, { objectStore: { enabled: true, partitionBy: 'hour' } });

async function list(prefix: string): Promise<Array<{ name: string; lastModified: Date }>> {
  const out: Array<{ name: string; lastModified: Date }> = [];
  for await (const item of client.listObjectsV2(config.bucket, prefix, true) as AsyncIterable<{ name: string; lastModified: Date }>) out.push(item);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
async function read(key: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of await client.getObject(config.bucket, key)) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

afterAll(async () => {
  await sink.removeBucket().catch(() => undefined);
  await sink.close();
});

describe('ObjectStoreSink against the real MinIO', () => {
  it('creates its bucket and writes gzip NDJSON segments whose content round-trips', async () => {
    expect(await sink.prepare(ds)).toEqual({ kind: 'ok' });
    expect(await client.bucketExists(config.bucket)).toBe(true);
    const envelopes = [
      envelope('orders', 'r:1', { user: 'ann', text: 'line\nbreak "quoted" ünï' }, '2026-03-01T10:00:00Z'),
      envelope('orders', 'r:2', { user: 'bob' }, '2026-03-01T11:30:00Z'),
      envelope('orders', 'r:3', { user: 'cid' }, '2026-03-01T10:59:00Z'),
    ];
    expect(await sink.write(batch(ds, envelopes, 500n, 'sluice.orders', 2))).toEqual({ kind: 'ok', rejected: [] });
    const objects = await list('orders/');
    expect(objects.map((o) => o.name)).toEqual([
      'orders/dt=2026-03-01/hour=10/part-sluice.orders-2-00000000000000000500.ndjson.gz',
      'orders/dt=2026-03-01/hour=11/part-sluice.orders-2-00000000000000000501.ndjson.gz',
    ]);
    const lines = gunzipSync(await read(objects[0]!.name)).toString('utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as Envelope)).toEqual([envelopes[0], envelopes[2]]);
  });

  it('rewrites the same objects, with the same bytes, when a batch is replayed', async () => {
    const envelopes = Array.from({ length: 50 }, (_, i) => envelope('orders', `p:${i}`, { i }, '2026-03-02T08:00:00Z'));
    const b = batch(ds, envelopes, 1000n, 'sluice.orders', 0);
    expect((await sink.write(b)).kind).toBe('ok');
    const before = await list('orders/dt=2026-03-02/');
    const bytes = await read(before[0]!.name);
    expect((await sink.write(b)).kind).toBe('ok');
    const after = await list('orders/dt=2026-03-02/');
    expect(after.map((o) => o.name)).toEqual(before.map((o) => o.name));
    expect(after).toHaveLength(1);
    expect((await read(after[0]!.name)).equals(bytes)).toBe(true);
  });

  it('holds each record once after a crash with two uncommitted batches in flight, however the replay is cut', async () => {
    const envelopes = Array.from({ length: 6 }, (_, i) => envelope('orders', `c:${i}`, { i }, '2026-03-05T09:00:00Z'));
    const slice = (from: number, to: number) => batch(ds, envelopes.slice(from, to), BigInt(700 + from), 'sluice.orders', 1);
    // Batches [700, 702) and [702, 704) both reached the store; neither was committed when the consumer died.
    expect((await sink.write(slice(0, 2))).kind).toBe('ok');
    expect((await sink.write(slice(2, 4))).kind).toBe('ok');
    // The replay from the committed offset 700 is cut in one larger batch, then the rest.
    expect((await sink.write(slice(0, 5))).kind).toBe('ok');
    expect((await sink.write(slice(5, 6))).kind).toBe('ok');
    const objects = await list('orders/dt=2026-03-05/');
    const ids: string[] = [];
    for (const o of objects) {
      for (const line of gunzipSync(await read(o.name)).toString('utf8').trimEnd().split('\n')) ids.push((JSON.parse(line) as Envelope).id);
    }
    expect(ids.sort()).toEqual(envelopes.map((e) => e.id).sort());
    expect(objects.map((o) => o.name.slice(-30))).toEqual(['00000000000000000700.ndjson.gz', '00000000000000000705.ndjson.gz']);
  });

  it('reassembles a ~100 MB blob from 200 chunks into blobs/<sha256>, verified, and completes idempotently', async () => {
    const count = 200;
    const data = randomBytes(count * BLOB_CHUNK_BYTES - 12_345);
    const sha256 = createHash('sha256').update(data).digest('hex');
    for (let index = 0; index < count; index++) {
      const bytes = data.subarray(index * BLOB_CHUNK_BYTES, (index + 1) * BLOB_CHUNK_BYTES);
      expect(await sink.blobs.writeChunk({ sha256, index, count, bytes })).toEqual({ kind: 'ok' });
    }
    // A replayed chunk (consumer restarted mid-blob) is just rewritten.
    expect((await sink.blobs.writeChunk({ sha256, index: 3, count, bytes: data.subarray(3 * BLOB_CHUNK_BYTES, 4 * BLOB_CHUNK_BYTES) })).kind).toBe('ok');
    const closing = { id: 'blob:1', blob: { key: 'big.bin', size: data.length, sha256, contentType: 'application/octet-stream', chunks: count } };
    expect(await sink.blobs.complete(closing)).toEqual({ kind: 'ok' });
    const stored = await read(`blobs/${sha256}`);
    expect(stored.length).toBe(data.length);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(sha256);
    expect(await list(`_chunks/${sha256}/`)).toEqual([]);
    expect(await sink.blobs.complete(closing)).toEqual({ kind: 'ok' });
  });

  it('refuses a blob whose chunks do not match its sha256, keeping the chunks and writing nothing', async () => {
    const data = randomBytes(3 * BLOB_CHUNK_BYTES);
    const sha256 = createHash('sha256').update(data).digest('hex');
    for (let index = 0; index < 3; index++) {
      const bytes = Buffer.from(data.subarray(index * BLOB_CHUNK_BYTES, (index + 1) * BLOB_CHUNK_BYTES));
      if (index === 1) bytes[10] = bytes[10]! ^ 0xff;
      await sink.blobs.writeChunk({ sha256, index, count: 3, bytes });
    }
    const result = await sink.blobs.complete({ id: 'blob:2', blob: { key: 'x', size: data.length, sha256, contentType: 'application/octet-stream', chunks: 3 } });
    expect(result.kind).toBe('failed');
    expect(result.kind === 'failed' && result.reason).toMatch(/sha256/);
    expect(await list(`blobs/${sha256}`)).toEqual([]);
    expect(await list(`_chunks/${sha256}/`)).toHaveLength(3);
    const missing = await sink.blobs.complete({ id: 'blob:3', blob: { key: 'y', size: 10, sha256: 'a'.repeat(64), contentType: 'text/plain', chunks: 1 } });
    expect(missing.kind === 'failed' && missing.reason).toMatch(/missing/);
  });
});

// Without an id ledger (segments dedupe by Kafka offset only); object-store-dedupe.int.test.ts runs the kit with one.
describeSinkConformance('object-store', {
  store: { host: new URL(config.endpoint).hostname, port: Number(new URL(config.endpoint).port) },
  create: (via) => Promise.resolve(objectStoreUnderTest(config, via)),
});
