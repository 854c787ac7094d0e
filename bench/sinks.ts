/**
 * Sink throughput, measured through the sinks themselves (no Kafka): rows/s into PostgreSQL, docs/s into
 * OpenSearch/Elasticsearch, MB/s into MinIO. Prints one JSON object. Uses its own schema / index prefix /
 * bucket and removes them afterwards.
 *   node bench/sinks.ts [postgres|search|object-store ...]   (env: BENCH_ROWS, BENCH_BATCH)
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { createLogger } from '@sluice/shared/node/logger';
import { feedStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '@sluice/control-plane/config';
import type { Sink, SinkBatch } from '@sluice/control-plane/sinks/sink';
import { objectStoreSinkConfig, postgresSinkConfig, searchSinkConfig } from '@sluice/control-plane/sinks/registry';

const total = Number(process.env.BENCH_ROWS ?? 200_000);
const batchSize = Number(process.env.BENCH_BATCH ?? 5_000);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 2);
const suffix = randomBytes(3).toString('hex');
const logger = createLogger('bench-sinks', { level: 'warn' });
const name = `bench_${suffix}`;
// The sinks get the control plane's own settings (SLUICE_SEARCH_*, SLUICE_S3_REGION...), over the local stack.
feedStackEnv();
const settings = loadConfig();

const schema = {
  type: 'object',
  properties: {
    user: { type: 'string' },
    amount: { type: 'number' },
    count: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    ok: { type: 'boolean' },
  },
};

function batches(ds: DatasetVersion, rows: number): SinkBatch[] {
  const out: SinkBatch[] = [];
  const topic = `sluice.${ds.spec.name}`;
  for (let start = 0; start < rows; start += batchSize) {
    const records = [];
    for (let i = start; i < Math.min(rows, start + batchSize); i++) {
      const envelope: Envelope = {
        id: `agent-1:src:f:fp:${i * 120}`,
        dataset: ds.spec.name,
        agentId: 'agent-1',
        source: { id: 'src', kind: 'file' },
        eventTime: new Date(Date.UTC(2026, 2, 1, 10) + i).toISOString(),
        ingestTime: new Date().toISOString(),
        schemaVersion: 1,
        payload: { user: `user-${i % 1000}`, amount: i * 0.25, count: i, at: '2026-03-01T10:00:00Z', ok: i % 2 === 0 },
      };
      records.push({ envelope, topic, partition: 0, offset: BigInt(i) });
    }
    out.push({ dataset: ds, topic, partition: 0, firstOffset: BigInt(start), lastOffset: BigInt(start + records.length - 1), records });
  }
  return out;
}

async function run(sink: Sink, ds: DatasetVersion, rows: number): Promise<{ seconds: number; bytes: number }> {
  const prepared = await sink.prepare(ds);
  if (prepared.kind !== 'ok') throw new Error(`prepare: ${JSON.stringify(prepared)}`);
  const work = batches(ds, rows);
  const bytes = work.reduce((n, b) => n + b.records.reduce((m, r) => m + JSON.stringify(r.envelope).length, 0), 0);
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < work.length) {
        const b = work[next++]!;
        const result = await sink.write(b);
        if (result.kind !== 'ok' || (result.rejected?.length ?? 0) > 0) throw new Error(`write: ${JSON.stringify(result).slice(0, 500)}`);
      }
    }),
  );
  await sink.flush();
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, bytes };
}

const which = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['postgres', 'search', 'object-store'];
const results: Record<string, unknown> = { rows: total, batchSize, concurrency };

if (which.includes('postgres')) {
  const { PostgresSink } = await import('@sluice/control-plane/sinks/postgres/postgres-sink');
  const config = postgresSinkConfig(settings);
  const sink = new PostgresSink({ ...config, schema: name, poolSize: concurrency, logger });
  const ds: DatasetVersion = { spec: { name: 'orders', sinks: { postgres: { enabled: true } } }, version: 1, schema };
  const { seconds } = await run(sink, ds, total);
  const replay = await run(sink, ds, total);
  await sink.close();
  const admin = new pg.Client({ connectionString: config.connectionString });
  await admin.connect();
  const count = (await admin.query<{ n: string }>(`SELECT count(*) AS n FROM "${name}".orders`)).rows[0]?.n;
  await admin.query(`DROP SCHEMA "${name}" CASCADE`);
  await admin.end();
  results.postgres = { rowsPerSec: Math.round(total / seconds), seconds, replayRowsPerSec: Math.round(total / replay.seconds), storedRows: Number(count) };
}

if (which.includes('search')) {
  const { SearchSink } = await import('@sluice/control-plane/sinks/search/search-sink');
  const rows = Math.min(total, Number(process.env.BENCH_SEARCH_ROWS ?? 50_000));
  const sink = new SearchSink({ ...searchSinkConfig(settings), logger });
  const ds: DatasetVersion = { spec: { name, sinks: { search: { enabled: true } } }, version: 1, schema };
  const { seconds } = await run(sink, ds, rows);
  await sink.deleteDatasetIndices(ds);
  await sink.close();
  results.search = { docsPerSec: Math.round(rows / seconds), docs: rows, seconds };
}

if (which.includes('object-store')) {
  const { ObjectStoreSink } = await import('@sluice/control-plane/sinks/object-store/object-store-sink');
  const config = objectStoreSinkConfig(settings);
  const bucket = `bench-${suffix}`;
  const sink = new ObjectStoreSink({ ...config, bucket, logger });
  const ds: DatasetVersion = { spec: { name, sinks: { objectStore: { enabled: true, partitionBy: 'hour' } } }, version: 1, schema };
  const { seconds, bytes } = await run(sink, ds, total);
  await sink.removeBucket();
  await sink.close();
  results.objectStore = { mbPerSec: Number((bytes / 1e6 / seconds).toFixed(1)), uncompressedMB: Number((bytes / 1e6).toFixed(1)), recordsPerSec: Math.round(total / seconds), seconds };
}

console.log(JSON.stringify(results));
