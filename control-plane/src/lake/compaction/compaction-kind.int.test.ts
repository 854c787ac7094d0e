import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@sluice/shared/node/logger';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { loadConfig } from '../../config.ts';
import { migrate } from '../../db/migrate.ts';
import { createPool } from '../../db/pool.ts';
import { uniqueSuffix } from '../../../test/support/sink-fixtures.ts';
import { jobKindRegistry } from '../jobs/kinds.ts';
import { PartitionStats } from '../partitions/partition-stats.ts';
import { compactionKind, partitionWindowEnd } from './compaction-kind.ts';

const stack = loadStackEnv();
const schema = `lake_kind_${uniqueSuffix()}`;
let pool: pg.Pool;

beforeAll(async () => {
  await migrate(stack.pgUrl, schema);
  pool = createPool(stack.pgUrl, schema);
});
afterAll(async () => {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.end();
});

describe('the compaction job kind', () => {
  it('is registered with the lake job kinds', () => {
    expect(jobKindRegistry().get('compaction')).toBe(compactionKind);
  });

  it('knows when a partition window ends', () => {
    expect(partitionWindowEnd('dt=2026-03-01')).toBe(Date.parse('2026-03-02T00:00:00Z'));
    expect(partitionWindowEnd('dt=2026-03-01/hour=23/bucket=3')).toBe(Date.parse('2026-03-02T00:00:00Z'));
    expect(partitionWindowEnd('bucket=3')).toBeUndefined();
  });

  it('plans one batch per closed partition that still has NDJSON segments', async () => {
    const config = loadConfig();
    const stats = new PartitionStats({ pool });
    const hour = new Date(Date.now()).toISOString().slice(0, 13);
    await stats.record(config.s3.bucket, [
      { key: 'k/dt=2020-01-01/hour=10/part-a-0-1.ndjson.gz', dataset: 'k', partition: 'dt=2020-01-01/hour=10', records: 5, bytes: 50 },
      { key: 'k/dt=2020-01-01/hour=11/compacted-x-0000.parquet', dataset: 'k', partition: 'dt=2020-01-01/hour=11', format: 'parquet', records: 5, bytes: 50 },
      { key: `k/dt=${hour.slice(0, 10)}/hour=${hour.slice(11, 13)}/part-a-0-2.ndjson.gz`, dataset: 'k', partition: `dt=${hour.slice(0, 10)}/hour=${hour.slice(11, 13)}`, records: 1, bytes: 9 },
    ]);
    // Rows written just now: a 0-minute close still needs the window to have ended.
    await pool.query(`UPDATE lake_segments SET written_at = now() - interval '2 hours'`);
    const ctx = { pool, config, logger: createLogger('kind-test', { level: 'warn' }), signal: new AbortController().signal };
    const batches = await compactionKind.plan({ id: 'j', dataset: 'k', spec: { kind: 'compaction', closedAfterMinutes: 0 }, options: {} }, ctx);
    expect(batches.map((b) => b.key)).toEqual(['partition:dt=2020-01-01/hour=10']);
    // The table's setting applies when the job names none: closed only after a day here.
    await pool.query(`INSERT INTO lake_tables (dataset, compaction) VALUES ('k', '{"closedAfterMinutes": 5256000}')`);
    expect(await compactionKind.plan({ id: 'j', dataset: 'k', spec: { kind: 'compaction' }, options: {} }, ctx)).toEqual([]);
    const named = await compactionKind.plan({ id: 'j', dataset: 'k', spec: { kind: 'compaction', partitions: ['dt=2020-01-01/hour=11'] }, options: {} }, ctx);
    expect(named).toEqual([{ key: 'partition:dt=2020-01-01/hour=11', input: { partition: 'dt=2020-01-01/hour=11' } }]);
    await expect(Promise.resolve().then(() => compactionKind.validate!({ kind: 'compaction', partitions: ['../x'] }, ctx))).rejects.toThrow(/not a partition path/);
  });
});
