/**
 * The whole path as `npm start` runs it, with real processes and real engines: a CSV dropped into the agent's
 * folder becomes rows in PostgreSQL, documents in OpenSearch and an object in MinIO, and the file moves to
 * done/. Everything this test makes is its own: topic prefix, consumer group, state and data schemas, bucket,
 * index prefix, drop folder.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as Minio from 'minio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoresPipeline } from '../../bench/lib/stores-pipeline.ts';

const e2e = new StoresPipeline({
  name: 'e2e',
  sinks: (p) => ({ postgres: { enabled: true }, search: { enabled: true, index: `sluice-${p.dataset}` }, objectStore: { enabled: true } }),
  schema: { type: 'object', required: ['sensor'], properties: { sensor: { type: 'string', minLength: 1 }, temp: { type: 'string' } } },
  agentYaml: (p) => [`allowedRoots: [${JSON.stringify(join(p.dir, 'drop'))}]`],
  sources: (p) => ['  - type: drop', '    id: drop', `    dataset: ${p.dataset}`, `    path: ${JSON.stringify(join(p.dir, 'drop'))}`, '    format: auto', '    completion: { stableMs: 300 }'],
});
const { dataset, bucket, stack, pool, dataSchema, stateSchema } = e2e;
const until = e2e.until.bind(e2e);
const s3 = new Minio.Client({
  endPoint: stack.s3.host,
  port: stack.s3.port,
  useSSL: stack.s3.useSSL,
  accessKey: stack.s3.accessKey,
  secretKey: stack.s3.secretKey,
});

beforeAll(async () => {
  await e2e.start({ agent: false });
  expect((await fetch(`${e2e.cpUrl}/healthz`)).status).toBe(401);
  await mkdir(join(e2e.dir, 'drop'), { recursive: true });
  await e2e.startAgent();
  expect((await fetch(`http://127.0.0.1:${e2e.agentPort}/healthz`)).status).toBe(401);
}, 180_000);

afterAll(async () => {
  // The bucket is this test's own; a bucket must be empty before it can go.
  const emptyAndRemove = async (): Promise<void> => {
    const keys: string[] = [];
    for await (const item of s3.listObjectsV2(bucket, '', true) as AsyncIterable<{ name?: string }>) if (item.name) keys.push(item.name);
    await s3.removeObjects(bucket, keys);
    await s3.removeBucket(bucket);
  };
  await e2e.processes.stopAll();
  await emptyAndRemove().catch(() => undefined);
  await e2e.stop();
});

describe('a file dropped into the agent folder', () => {
  it('shows up in PostgreSQL, OpenSearch and MinIO, and the broken row in the DLQ', async () => {
    // Row 3 has an empty `sensor`, which the schema refuses: it must reach the DLQ with its reason while the others flow on.
    await writeFile(join(e2e.dir, 'drop', 'readings.csv'), 'sensor,temp\nalpha,1.5\nbeta,2.5\n,3\n"gamma, quoted",4\n');

    const rows = await until('3 rows in PostgreSQL', async () => {
      const { rows } = await pool.query<{ id: string; sensor: string }>(`SELECT id, payload->>'sensor' AS sensor FROM ${dataSchema}.${dataset} ORDER BY id`).catch(() => ({ rows: [] }));
      return rows.length >= 3 ? rows : undefined;
    });
    expect(rows.map((r) => r.sensor).sort()).toEqual(['alpha', 'beta', 'gamma, quoted']);

    const dlq = await until('the invalid row in the DLQ', async () => {
      const { rows } = await pool.query<{ reason: string }>(`SELECT reason FROM ${stateSchema}.dlq`).catch(() => ({ rows: [] }));
      return rows.length > 0 ? rows : undefined;
    });
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.reason).toMatch(/sensor/);

    const docs = await until('3 documents in OpenSearch', async () => {
      await fetch(`${stack.searchUrl}/sluice-${dataset}-*/_refresh`, { method: 'POST' });
      const res = await fetch(`${stack.searchUrl}/sluice-${dataset}-*/_search?size=10`);
      if (!res.ok) return undefined;
      const body = (await res.json()) as { hits: { hits: Array<{ _id: string }> } };
      return body.hits.hits.length >= 3 ? body.hits.hits : undefined;
    });
    expect(docs.map((d) => d._id).sort()).toEqual(rows.map((r) => r.id).sort());

    const stored = await until('the records in MinIO', async () => {
      const keys: string[] = [];
      const listing = s3.listObjectsV2(bucket, `${dataset}/`, true) as AsyncIterable<{ name?: string }>;
      for await (const item of listing) if (item.name) keys.push(item.name);
      const ids: string[] = [];
      for (const key of keys) {
        const body = Buffer.concat(await (await s3.getObject(bucket, key)).toArray());
        for (const line of gunzipSync(body).toString('utf8').split('\n').filter(Boolean)) ids.push((JSON.parse(line) as { id: string }).id);
      }
      return ids.length >= 3 ? ids : undefined;
    });
    expect(stored.sort()).toEqual(rows.map((r) => r.id).sort());

    await until('the file in done/', async () => (existsSync(join(e2e.dir, 'drop', 'done', 'readings.csv')) ? true : undefined));
    expect(await readdir(join(e2e.dir, 'drop'))).not.toContain('readings.csv');
  });
});
