/**
 * `compaction`: the lake job kind that optimizes a dataset's closed partitions (compaction.ts). One batch
 * per partition (key `partition:<path>`); a batch run again after a crash finishes or redoes the same swap.
 * A partition is closed when its time window (`dt=` day or `hour=`) ended `closedAfterMinutes` ago (default
 * 60) and nothing was written to it for as long; `partitions` names partitions to compact regardless.
 */
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { InputError } from '@sluice/shared/errors';
import { compactionSettingsSchema } from '@sluice/shared/api/lake';
import { DatasetStore } from '../../datasets/dataset-store.ts';
import { objectStoreSinkConfig } from '../../sinks/registry.ts';
import { createS3Client } from '../../sinks/object-store/object-store-sink.ts';
import type { JobKind } from '../jobs/registry.ts';
import { listPartitions, PartitionStats } from '../partitions/partition-stats.ts';
import { compactPartition } from './compaction.ts';

export interface CompactionSpec {
  kind: 'compaction';
  partitions?: string[];
  closedAfterMinutes?: number;
  targetFileBytes?: number;
  rowGroupRows?: number;
}

export const compactionSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind'],
  properties: {
    kind: { const: 'compaction' },
    partitions: { type: 'array', maxItems: 10_000, items: { type: 'string', pattern: '^[A-Za-z0-9_.=/-]{1,300}$' } },
    ...compactionSettingsSchema.properties,
  },
} as const;

/** When a partition's time window ends (ms), from its `dt=`/`hour=` path; undefined when it has none. */
export function partitionWindowEnd(partition: string): number | undefined {
  const day = /(?:^|\/)dt=(\d{4}-\d{2}-\d{2})(?:\/hour=(\d{2}))?/.exec(partition);
  if (!day) return undefined;
  const start = Date.parse(`${day[1]}T${day[2] ?? '00'}:00:00Z`);
  return start + (day[2] === undefined ? 24 : 1) * 3600_000;
}

/** The table's compaction settings (PUT /api/v1/tables/{name}); a job's own settings win over them. */
async function tableSettings(pool: pg.Pool, dataset: string): Promise<{ closedAfterMinutes?: number; targetFileBytes?: number; rowGroupRows?: number }> {
  const { rows } = await pool.query<{ compaction: Record<string, number> }>('SELECT compaction FROM lake_tables WHERE dataset = $1', [dataset]);
  return rows[0]?.compaction ?? {};
}

/**
 * The version whose columns new Parquet files get: the one last applied (POST /schema/versions/{id}/apply),
 * or the latest version when none was applied.
 */
async function parquetVersion(pool: pg.Pool, name: string): Promise<DatasetVersion> {
  const store = new DatasetStore(pool);
  const latest = await store.latest(name);
  if (!latest) throw InputError(`dataset ${name} does not exist`);
  const { rows } = await pool.query<{ version: number }>('SELECT version FROM schema_applies WHERE dataset = $1 ORDER BY id DESC LIMIT 1', [name]);
  const applied = rows[0]?.version;
  if (applied === undefined || applied === latest.version) return latest;
  return { ...latest, version: applied, schema: (await store.version(name, applied)).schema };
}

export const compactionKind: JobKind<CompactionSpec, { partition: string }> = {
  kind: 'compaction',
  specSchema: compactionSourceSchema,
  validate(spec) {
    for (const p of spec.partitions ?? []) if (p.split('/').some((s) => s === '..' || s === '.' || s === '')) throw InputError(`partition ${JSON.stringify(p)}: not a partition path`);
  },
  async plan(job, ctx) {
    if (job.spec.partitions) return job.spec.partitions.map((partition) => ({ key: `partition:${partition}`, input: { partition } }));
    const table = await tableSettings(ctx.pool, job.dataset);
    const closedBefore = Date.now() - (job.spec.closedAfterMinutes ?? table.closedAfterMinutes ?? 60) * 60_000;
    const out = [];
    let after: string | undefined;
    for (;;) {
      const page = await listPartitions(ctx.pool, { dataset: job.dataset, bucket: ctx.config.s3.bucket, limit: 1000, ...(after === undefined ? {} : { after }) });
      for (const p of page) {
        const end = partitionWindowEnd(p.partition);
        const ndjson = await ctx.pool.query<{ n: string }>(`SELECT count(*) AS n FROM lake_segments WHERE dataset = $1 AND partition = $2 AND format = 'ndjson.gz'`, [job.dataset, p.partition]);
        if (end !== undefined && end <= closedBefore && Date.parse(p.lastWrite) <= closedBefore && Number(ndjson.rows[0]!.n) > 0) {
          out.push({ key: `partition:${p.partition}`, input: { partition: p.partition }, records: p.records, bytes: p.bytes });
        }
      }
      if (page.length < 1000) return out;
      after = page.at(-1)!.partition;
    }
  },
  async run(batch, ctx) {
    const dataset = await parquetVersion(ctx.pool, batch.dataset);
    const table = await tableSettings(ctx.pool, batch.dataset);
    const targetFileBytes = batch.spec.targetFileBytes ?? table.targetFileBytes;
    const rowGroupRows = batch.spec.rowGroupRows ?? table.rowGroupRows;
    const result = await compactPartition({
      client: createS3Client(objectStoreSinkConfig(ctx.config)),
      bucket: ctx.config.s3.bucket,
      dataset,
      partition: batch.input.partition,
      stats: new PartitionStats({ pool: ctx.pool }),
      ...(targetFileBytes === undefined ? {} : { targetFileBytes }),
      ...(rowGroupRows === undefined ? {} : { rowGroupRows }),
    });
    return { records: result.records, bytes: result.inputBytes };
  },
};
