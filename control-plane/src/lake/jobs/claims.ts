/**
 * How workers share jobs through PostgreSQL. Every claim is `FOR UPDATE SKIP LOCKED` (two workers never get
 * the same row, and neither waits for the other) plus a lease: the claimer renews it while it works; a
 * worker that died (kill -9) stops renewing, and once the lease has run out any worker claims the row again.
 */
import type pg from 'pg';

export interface BatchClaim {
  type: 'batch';
  jobId: string;
  seq: number;
  key: string;
  input: unknown;
  /** Runs of this batch so far, this one included (a taken-over batch counts the dead worker's too). */
  attempts: number;
}

export interface PlanClaim {
  type: 'plan';
  jobId: string;
}

export interface ClaimedJob {
  id: string;
  dataset: string;
  kind: string;
  spec: Record<string, unknown>;
  options: Record<string, unknown>;
}

/**
 * The next batch to run: of `onlyJob` when given (a slot keeps to its job until the job has nothing left),
 * else of the oldest running job this worker does not already run (`busy`), so one worker runs at most as
 * many jobs as it has slots and a sixth job waits for a free slot.
 */
export async function claimBatch(pool: pg.Pool, worker: string, leaseMs: number, onlyJob: string | undefined, busy: readonly string[]): Promise<BatchClaim | undefined> {
  const found = await pool.query<{ job_id: string; seq: number; key: string; input: unknown; attempts: number }>(
    `WITH next AS (
       SELECT b.job_id, b.seq FROM lake_job_batches b JOIN lake_jobs j ON j.id = b.job_id
        WHERE j.state = 'running'
          AND ($2::text IS NULL OR b.job_id = $2)
          AND NOT (b.job_id = ANY($3::text[]))
          AND (b.state = 'pending' OR (b.state = 'running' AND b.lease_until < now()))
        ORDER BY j.started_at, j.id, b.seq
        LIMIT 1
        FOR UPDATE OF b SKIP LOCKED)
     UPDATE lake_job_batches b
        SET state = 'running', worker = $1, lease_until = now() + $4 * interval '1 millisecond', attempts = b.attempts + 1,
            started_at = now(), records = 0, bytes = 0, errors = '[]'::jsonb
       FROM next WHERE b.job_id = next.job_id AND b.seq = next.seq
     RETURNING b.job_id, b.seq, b.key, b.input, b.attempts`,
    [worker, onlyJob ?? null, onlyJob === undefined ? busy : [], leaseMs],
  );
  const row = found.rows[0];
  return row ? { type: 'batch', jobId: row.job_id, seq: row.seq, key: row.key, input: row.input, attempts: row.attempts } : undefined;
}

/** A started job nobody has planned yet (or whose planner died), oldest first. */
export async function claimPlanning(pool: pg.Pool, worker: string, leaseMs: number, busy: readonly string[]): Promise<PlanClaim | undefined> {
  const found = await pool.query<{ id: string }>(
    `UPDATE lake_jobs SET planner = $1, plan_lease_until = now() + $2 * interval '1 millisecond'
      WHERE id = (SELECT id FROM lake_jobs
                   WHERE state = 'queued' AND (plan_lease_until IS NULL OR plan_lease_until < now()) AND NOT (id = ANY($3::text[]))
                   ORDER BY started_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING id`,
    [worker, leaseMs, busy],
  );
  const row = found.rows[0];
  return row ? { type: 'plan', jobId: row.id } : undefined;
}

export async function loadJob(pool: pg.Pool, id: string): Promise<ClaimedJob | undefined> {
  const found = await pool.query<ClaimedJob>('SELECT id, dataset, kind, spec, options FROM lake_jobs WHERE id = $1', [id]);
  return found.rows[0];
}

/** Stores the plan and makes the job claimable; nothing if the job was cancelled meanwhile. A job of no batches has succeeded. */
export async function storePlan(pool: pg.Pool, worker: string, jobId: string, batches: ReadonlyArray<{ key: string; input: unknown; records?: number | undefined; bytes?: number | undefined }>): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const job = await client.query<{ state: string }>('SELECT state FROM lake_jobs WHERE id = $1 AND planner = $2 FOR UPDATE', [jobId, worker]);
    if (job.rows[0]?.state !== 'queued') {
      await client.query('ROLLBACK');
      return false;
    }
    const keys = new Set<string>();
    for (const b of batches) {
      if (keys.has(b.key)) throw new Error(`the plan has batch key ${b.key} twice`);
      keys.add(b.key);
    }
    // One INSERT per 1000 batches; the keys are unique within a job, and a re-plan after a crash keeps them.
    for (let from = 0; from < batches.length; from += 1000) {
      const chunk = batches.slice(from, from + 1000);
      await client.query(
        `INSERT INTO lake_job_batches (job_id, seq, key, input, state, planned_records, planned_bytes)
         SELECT $1, from_seq + ord - 1, key, input, 'pending', records, bytes
           FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS (key text, input jsonb, records bigint, bytes bigint)) WITH ORDINALITY AS t(key, input, records, bytes, ord), (SELECT $3::int AS from_seq) s
         ON CONFLICT (job_id, key) DO NOTHING`,
        [jobId, JSON.stringify(chunk.map((b) => ({ key: b.key, input: b.input, records: b.records ?? null, bytes: b.bytes ?? null }))), from],
      );
    }
    const state = batches.length === 0 ? 'succeeded' : 'running';
    await client.query(
      `UPDATE lake_jobs SET state = $2, planned_at = now(), planner = NULL, plan_lease_until = NULL, finished_at = ${batches.length === 0 ? 'now()' : 'NULL'} WHERE id = $1`,
      [jobId, state],
    );
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function failJob(pool: pg.Pool, jobId: string, error: string): Promise<void> {
  await pool.query(`UPDATE lake_jobs SET state = 'failed', error = $2, finished_at = now(), planner = NULL, plan_lease_until = NULL WHERE id = $1 AND state IN ('queued', 'running')`, [jobId, error]);
}

/** The batch's end, if this worker still holds it (a lease lost to another worker writes nothing). */
export async function settleBatch(
  pool: pg.Pool,
  worker: string,
  claim: BatchClaim,
  outcome: { state: 'done' | 'failed' | 'cancelled' | 'pending'; records?: number; bytes?: number; errors?: unknown[]; error?: string | null },
): Promise<boolean> {
  const result = await pool.query(
    `UPDATE lake_job_batches
        SET state = $4, records = coalesce($5, records), bytes = coalesce($6, bytes), errors = coalesce($7::jsonb, errors),
            error = $8, finished_at = CASE WHEN $4 = 'pending' THEN NULL ELSE now() END, lease_until = NULL,
            worker = CASE WHEN $4 = 'pending' THEN NULL ELSE worker END
      WHERE job_id = $1 AND seq = $2 AND worker = $3 AND state = 'running'`,
    [claim.jobId, claim.seq, worker, outcome.state, outcome.records ?? null, outcome.bytes ?? null, outcome.errors ? JSON.stringify(outcome.errors.slice(0, 100)) : null, outcome.error ?? null],
  );
  return result.rowCount === 1;
}

/** Ends a running job whose batches are all settled: failed if one failed, else succeeded. */
export async function finishIfDone(pool: pg.Pool, jobId: string): Promise<void> {
  await pool.query(
    `UPDATE lake_jobs j
        SET state = CASE WHEN EXISTS (SELECT 1 FROM lake_job_batches WHERE job_id = j.id AND state = 'failed') THEN 'failed' ELSE 'succeeded' END,
            error = CASE WHEN EXISTS (SELECT 1 FROM lake_job_batches WHERE job_id = j.id AND state = 'failed')
                         THEN (SELECT count(*) || ' batch(es) failed, see errors' FROM lake_job_batches WHERE job_id = j.id AND state = 'failed') END,
            finished_at = now()
      WHERE id = $1 AND state = 'running'
        AND NOT EXISTS (SELECT 1 FROM lake_job_batches WHERE job_id = j.id AND state IN ('pending', 'running'))`,
    [jobId],
  );
}

/** Renews this worker's leases (with the progress of its running batches) and answers the states of `jobs`, the jobs it works on. */
export async function heartbeat(
  pool: pg.Pool,
  worker: string,
  maxJobs: number,
  leaseMs: number,
  running: ReadonlyArray<{ jobId: string; seq: number; records: number; bytes: number }>,
  planning: readonly string[],
  jobs: readonly string[],
): Promise<Map<string, string>> {
  await pool.query(
    `INSERT INTO lake_workers (id, max_jobs) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), max_jobs = EXCLUDED.max_jobs`,
    [worker, maxJobs],
  );
  if (running.length > 0) {
    await pool.query(
      `UPDATE lake_job_batches b SET lease_until = now() + $2 * interval '1 millisecond', records = r.records, bytes = r.bytes
         FROM jsonb_to_recordset($3::jsonb) AS r(job_id text, seq int, records bigint, bytes bigint)
        WHERE b.job_id = r.job_id AND b.seq = r.seq AND b.worker = $1 AND b.state = 'running'`,
      [worker, leaseMs, JSON.stringify(running.map((r) => ({ job_id: r.jobId, seq: r.seq, records: r.records, bytes: r.bytes })))],
    );
  }
  if (planning.length > 0) {
    await pool.query(`UPDATE lake_jobs SET plan_lease_until = now() + $2 * interval '1 millisecond' WHERE planner = $1 AND id = ANY($3::text[])`, [worker, leaseMs, planning]);
  }
  const states = await pool.query<{ id: string; state: string }>('SELECT id, state FROM lake_jobs WHERE id = ANY($1::text[])', [[...new Set(jobs)]]);
  return new Map(states.rows.map((r) => [r.id, r.state]));
}
