import type pg from 'pg';

/**
 * Per-minute ingested / failed counts per dataset, for the health API and the console's charts. Counted
 * when a batch is committed; a crash between the sinks and the commit may count a redelivered batch
 * twice: these are operating figures, the stores themselves hold each record once.
 */
export async function addIngestCounts(pool: pg.Pool, counts: ReadonlyMap<string, { ingested: number; failed: number }>, at: Date = new Date()): Promise<void> {
  const rows = [...counts].filter(([, c]) => c.ingested > 0 || c.failed > 0);
  if (rows.length === 0) return;
  const minute = new Date(Math.floor(at.getTime() / 60_000) * 60_000);
  await pool.query(
    `INSERT INTO ingest_counts (dataset, minute, ingested, failed)
     SELECT d, $1, i, f FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS t(d, i, f)
     ON CONFLICT (dataset, minute) DO UPDATE
       SET ingested = ingest_counts.ingested + excluded.ingested, failed = ingest_counts.failed + excluded.failed`,
    [minute, rows.map(([d]) => d), rows.map(([, c]) => c.ingested), rows.map(([, c]) => c.failed)],
  );
}
