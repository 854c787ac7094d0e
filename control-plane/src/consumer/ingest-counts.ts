import type pg from 'pg';
import type { SinkErrorCount } from './sink-error-counts.ts';

/**
 * Per-minute ingested / failed counts per dataset, and sink errors per dataset and sink, for the health API
 * and the console's charts. Counted when a batch is committed (sink errors when they happen); a crash
 * between the sinks and the commit may count a redelivered batch twice: these are operating figures, the
 * stores themselves hold each record once (the ledger counts those). One statement for both tables.
 */
export async function addIngestCounts(
  pool: pg.Pool,
  counts: ReadonlyMap<string, { ingested: number; failed: number }>,
  at: Date = new Date(),
  sinkErrors: readonly SinkErrorCount[] = [],
): Promise<void> {
  const rows = [...counts].filter(([, c]) => c.ingested > 0 || c.failed > 0);
  const errors = sinkErrors.filter((e) => e.failedWrites > 0 || e.rejected > 0);
  if (rows.length === 0 && errors.length === 0) return;
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
  await pool.query(
    `WITH ingest AS (
       INSERT INTO ingest_counts (dataset, minute, ingested, failed)
       SELECT d, $1, i, f FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(d, i, f)
       ON CONFLICT (dataset, minute) DO UPDATE
         SET ingested = ingest_counts.ingested + excluded.ingested, failed = ingest_counts.failed + excluded.failed
     )
     INSERT INTO sink_error_counts (dataset, sink, minute, failed_writes, rejected)
     SELECT d, s, $1, w, r FROM unnest($5::text[], $6::text[], $7::bigint[], $8::bigint[]) AS t(d, s, w, r)
     ON CONFLICT (dataset, sink, minute) DO UPDATE
       SET failed_writes = sink_error_counts.failed_writes + excluded.failed_writes, rejected = sink_error_counts.rejected + excluded.rejected`,
    [
      minute,
      rows.map(([d]) => d),
      rows.map(([, c]) => c.ingested),
      rows.map(([, c]) => c.failed),
      errors.map((e) => e.dataset),
      errors.map((e) => e.sink),
      errors.map((e) => e.failedWrites),
      errors.map((e) => e.rejected),
    ],
  );
}
