/**
 * The whole path as `npm start` runs it, with real processes and real engines: a CSV dropped into the agent's
 * folder becomes rows in PostgreSQL, documents in OpenSearch and an object in MinIO, and the file moves to
 * done/. Everything this test makes is its own: topic prefix, consumer group, state and data schemas, bucket,
 * index prefix, drop folder.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as Minio from 'minio';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { freePort, ProcessGroup } from '@sluice/shared/node/testing/processes';
import { ownSchemas, ownSearchIndices, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const stack = loadStackEnv();
const id = randomBytes(4).toString('hex');
const dataset = `e2e_${id}`;
const topicPrefix = testTopicPrefix(`e2e${id}`);
const stateSchema = `e2e_state_${id}`;
const dataSchema = `e2e_data_${id}`;
ownSchemas(stateSchema, dataSchema);
ownSearchIndices(`sluice-${dataset}-*`);
const bucket = `e2e-${id}`;
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
// Every endpoint needs credentials, as with `npm start`: a viewer key for the control plane's health and
// metrics, the agent's http.token for its own.
const metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
const agentToken = `sat_${randomBytes(24).toString('base64url')}`;

/** The control plane, consumer and agent; their last output is shown when a wait times out. */
const processes = new ProcessGroup();
let dir = '';
let cpUrl = '';

/** A wait that, timed out, shows what the processes printed last. */
function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<NonNullable<T>> {
  return waitFor(probe, { timeoutMs, intervalMs: 500, what, detail: () => processes.describe() });
}

const pool = new pg.Pool({ connectionString: stack.pgUrl, max: 2 });
const s3 = new Minio.Client({
  endPoint: stack.s3.host,
  port: stack.s3.port,
  useSSL: stack.s3.useSSL,
  accessKey: stack.s3.accessKey,
  secretKey: stack.s3.secretKey,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sluice-e2e-'));
  const cpPort = await freePort();
  const agentPort = await freePort();
  cpUrl = `http://127.0.0.1:${cpPort}`;
  const cpEnv = {
    SLUICE_HTTP_PORT: String(cpPort),
    SLUICE_STATE_SCHEMA: stateSchema,
    SLUICE_DATA_SCHEMA: dataSchema,
    SLUICE_TOPIC_PREFIX: topicPrefix,
    SLUICE_DLQ_TOPIC: `${topicPrefix}dlq`,
    SLUICE_CONSUMER_GROUP: `e2e-${id}`,
    SLUICE_S3_BUCKET: bucket,
    SLUICE_TOPIC_REFRESH_MS: '1000',
    SLUICE_CONSUMER_METRICS_PORT: '0',
    SLUICE_ADMIN_KEY: adminKey,
    SLUICE_METRICS_KEY: metricsKey,
    SLUICE_LOG_LEVEL: 'warn',
  };
  processes.start('control plane', ['control-plane/bin/sluice-control-plane.js', 'serve'], { cwd: ROOT, env: cpEnv });
  await until('the control plane', async () => ((await fetch(`${cpUrl}/healthz`, { headers: { authorization: `Bearer ${metricsKey}` } })).ok ? true : undefined));
  expect((await fetch(`${cpUrl}/healthz`)).status).toBe(401);

  const created = await fetch(`${cpUrl}/api/v1/datasets`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: dataset,
      sinks: { postgres: { enabled: true }, search: { enabled: true, index: `sluice-${dataset}` }, objectStore: { enabled: true } },
      schema: { type: 'object', required: ['sensor'], properties: { sensor: { type: 'string', minLength: 1 }, temp: { type: 'string' } } },
    }),
  });
  expect(created.status, await created.clone().text()).toBe(201);

  processes.start('consumer', ['control-plane/bin/sluice-control-plane.js', 'consume'], { cwd: ROOT, env: cpEnv });
  await writeFile(
    join(dir, 'agent.yaml'),
    [
      `agentId: e2e-${id}`,
      `dataDir: ${join(dir, 'data')}`,
      'kafka:',
      `  brokers: [${JSON.stringify(stack.kafkaBrokers[0])}]`,
      `  topicPrefix: ${JSON.stringify(topicPrefix)}`,
      'http:',
      `  listen: 127.0.0.1:${agentPort}`,
      '  token: ${env:SLUICE_AGENT_TOKEN}',
      `allowedRoots: [${JSON.stringify(join(dir, 'drop'))}]`,
      'sources:',
      '  - type: drop',
      '    id: drop',
      `    dataset: ${dataset}`,
      `    path: ${JSON.stringify(join(dir, 'drop'))}`,
      '    format: auto',
      '    completion: { stableMs: 300 }',
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'drop'), { recursive: true });
  processes.start('agent', ['agent/bin/sluice-agent.js', 'run', '--config', join(dir, 'agent.yaml')], { cwd: ROOT, env: { SLUICE_LOG_LEVEL: 'warn', SLUICE_AGENT_TOKEN: agentToken } });
  const agentHealth = `http://127.0.0.1:${agentPort}/healthz`;
  await until('the agent', async () => ((await fetch(agentHealth, { headers: { authorization: `Bearer ${agentToken}` } })).ok ? true : undefined));
  expect((await fetch(agentHealth)).status).toBe(401);
}, 180_000);

afterAll(async () => {
  await processes.stopAll();
  await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE; DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
  await pool.end();
  await fetch(`${stack.searchUrl}/sluice-${dataset}-*`, { method: 'DELETE' }).catch(() => undefined);
  // The bucket is this test's own; a bucket must be empty before it can go.
  const emptyAndRemove = async (): Promise<void> => {
    const keys: string[] = [];
    for await (const item of s3.listObjectsV2(bucket, '', true) as AsyncIterable<{ name?: string }>) if (item.name) keys.push(item.name);
    await s3.removeObjects(bucket, keys);
    await s3.removeBucket(bucket);
  };
  await emptyAndRemove().catch(() => undefined);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a file dropped into the agent folder', () => {
  it('shows up in PostgreSQL, OpenSearch and MinIO, and the broken row in the DLQ', async () => {
    // Row 3 has an empty `sensor`, which the schema refuses: it must reach the DLQ with its reason while the others flow on.
    await writeFile(join(dir, 'drop', 'readings.csv'), 'sensor,temp\nalpha,1.5\nbeta,2.5\n,3\n"gamma, quoted",4\n');

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

    await until('the file in done/', async () => (existsSync(join(dir, 'drop', 'done', 'readings.csv')) ? true : undefined));
    expect(await readdir(join(dir, 'drop'))).not.toContain('readings.csv');
  });
});
