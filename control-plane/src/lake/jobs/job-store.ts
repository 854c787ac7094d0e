/**
 * Jobs and their batches in PostgreSQL (migration 1767000000400): what the API creates, starts and cancels,
 * and what GET answers (progress summed from the batches). Workers claim through lake/jobs/claims.ts.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ConflictError, InputError, NotFoundError } from '@sluice/shared/errors';
import type { JobListQuery, JobListResponse, JobProgress, JobState, JobSummary, JobViewResponse } from '@sluice/shared/api/jobs';
import { withTransaction } from '../../db/transaction.ts';
import { recordAudit, type AuditActor } from '../../operators/audit.ts';

export interface ChangedBy {
  actor: AuditActor;
  requestId?: string | undefined;
}

interface JobRow {
  id: string;
  dataset: string;
  kind: string;
  spec: Record<string, unknown>;
  state: JobState;
  error: string | null;
  created_by: string;
  created_at: Date;
  started_at: Date | null;
  planned_at: Date | null;
  finished_at: Date | null;
  total: number;
  pending: number;
  running: number;
  done: number;
  failed: number;
  cancelled: number;
  records: string;
  bytes: string;
  planned_records: string | null;
  planned_bytes: string | null;
  done_bytes: string;
  now: Date;
}

const SUMMARY_SELECT = `
  SELECT j.id, j.dataset, j.kind, j.spec, j.state, j.error, j.created_by, j.created_at, j.started_at, j.planned_at, j.finished_at, now() AS now,
         coalesce(b.total, 0)::int AS total, coalesce(b.pending, 0)::int AS pending, coalesce(b.running, 0)::int AS running,
         coalesce(b.done, 0)::int AS done, coalesce(b.failed, 0)::int AS failed, coalesce(b.cancelled, 0)::int AS cancelled,
         coalesce(b.records, 0)::text AS records, coalesce(b.bytes, 0)::text AS bytes, coalesce(b.done_bytes, 0)::text AS done_bytes,
         b.planned_records::text AS planned_records, b.planned_bytes::text AS planned_bytes
    FROM lake_jobs j
    LEFT JOIN LATERAL (
      SELECT count(*) AS total,
             count(*) FILTER (WHERE state = 'pending') AS pending, count(*) FILTER (WHERE state = 'running') AS running,
             count(*) FILTER (WHERE state = 'done') AS done, count(*) FILTER (WHERE state = 'failed') AS failed,
             count(*) FILTER (WHERE state = 'cancelled') AS cancelled,
             sum(records) AS records, sum(bytes) AS bytes, sum(bytes) FILTER (WHERE state = 'done') AS done_bytes,
             CASE WHEN count(planned_records) = count(*) THEN sum(planned_records) END AS planned_records,
             CASE WHEN count(planned_bytes) = count(*) THEN sum(planned_bytes) END AS planned_bytes
        FROM lake_job_batches WHERE job_id = j.id) b ON true`;

const FINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export class JobStore {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(input: { dataset: string; kind: string; spec: Record<string, unknown>; start: boolean }, by: ChangedBy): Promise<JobViewResponse> {
    const id = `job_${randomUUID().replaceAll('-', '')}`;
    await withTransaction(this.#pool, async (client) => {
      const state: JobState = input.start ? 'queued' : 'created';
      await client.query(
        `INSERT INTO lake_jobs (id, dataset, kind, spec, state, created_by, started_at) VALUES ($1, $2, $3, $4, $5, $6, ${input.start ? 'now()' : 'NULL'})`,
        [id, input.dataset, input.kind, input.spec, state, by.actor.name ?? by.actor.id],
      );
      await recordAudit(client, { ...by, action: 'job.create', target: { kind: 'job', id }, after: { dataset: input.dataset, kind: input.kind, source: input.spec, state } });
    });
    return this.get(id);
  }

  async get(id: string): Promise<JobViewResponse> {
    const found = await this.#pool.query<JobRow>(`${SUMMARY_SELECT} WHERE j.id = $1`, [id]);
    const row = found.rows[0];
    if (!row) throw NotFoundError(`job ${id} does not exist`);
    const errors = await this.#pool.query<{ seq: number; key: string; state: JobViewResponse['errors'][number]['state']; attempts: number; error: string | null; errors: Array<{ position: string; reason: string }> }>(
      `SELECT seq, key, state, attempts, error, errors FROM lake_job_batches
        WHERE job_id = $1 AND (error IS NOT NULL OR jsonb_array_length(errors) > 0) ORDER BY seq LIMIT 100`,
      [id],
    );
    return {
      ...summary(row),
      errors: errors.rows.map((e) => ({ seq: e.seq, key: e.key, state: e.state, attempts: e.attempts, error: e.error, recordErrors: e.errors.slice(0, 100) })),
    };
  }

  async list(query: JobListQuery): Promise<JobListResponse> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown): void => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (query.state !== undefined) add('j.state = ?', query.state);
    if (query.dataset !== undefined) add('j.dataset = ?', query.dataset);
    if (query.kind !== undefined) add('j.kind = ?', query.kind);
    if (query.cursor !== undefined) {
      // The cursor names the last job of the page before; microsecond timestamps compare in PostgreSQL.
      params.push(decodeCursor(query.cursor));
      where.push(`(j.created_at, j.id) < ((SELECT created_at FROM lake_jobs WHERE id = $${params.length}), $${params.length})`);
    }
    const limit = query.limit ?? 50;
    params.push(limit + 1);
    const found = await this.#pool.query<JobRow>(
      `${SUMMARY_SELECT} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY j.created_at DESC, j.id DESC LIMIT $${params.length}`,
      params,
    );
    const rows = found.rows.slice(0, limit);
    const last = rows.at(-1);
    return { items: rows.map(summary), nextCursor: found.rows.length > limit && last ? encodeCursor(last.id) : null };
  }

  /** created → queued; a failed or cancelled job starts again with its unfinished batches (finished ones are kept). */
  async start(id: string, by: ChangedBy): Promise<JobViewResponse> {
    await withTransaction(this.#pool, async (client) => {
      const before = await lockJob(client, id);
      if (before.state === 'queued' || before.state === 'running') throw ConflictError(`job ${id} is already ${before.state}`);
      if (before.state === 'succeeded') throw ConflictError(`job ${id} has succeeded; create a new job to read the source again (its records keep their ids)`);
      const planned = await client.query('SELECT 1 FROM lake_job_batches WHERE job_id = $1 LIMIT 1', [id]);
      // A job planned before goes straight back to running; one never planned waits for a worker to plan it.
      const state: JobState = planned.rowCount === 0 ? 'queued' : 'running';
      await client.query(`UPDATE lake_job_batches SET state = 'pending', error = NULL, worker = NULL, lease_until = NULL WHERE job_id = $1 AND state IN ('failed', 'cancelled')`, [id]);
      await client.query('UPDATE lake_jobs SET state = $2, error = NULL, started_at = coalesce(started_at, now()), finished_at = NULL WHERE id = $1', [id, state]);
      await recordAudit(client, { ...by, action: 'job.start', target: { kind: 'job', id }, before: { state: before.state }, after: { state } });
    });
    return this.get(id);
  }

  /** Stops a job: pending batches are not run, running ones are aborted by their workers within a lease renewal. */
  async cancel(id: string, by: ChangedBy): Promise<JobViewResponse> {
    await withTransaction(this.#pool, async (client) => {
      const before = await lockJob(client, id);
      if (FINAL.includes(before.state)) throw ConflictError(`job ${id} is already ${before.state}`);
      await client.query(`UPDATE lake_job_batches SET state = 'cancelled', finished_at = now() WHERE job_id = $1 AND state = 'pending'`, [id]);
      await client.query(`UPDATE lake_jobs SET state = 'cancelled', finished_at = now() WHERE id = $1`, [id]);
      await recordAudit(client, { ...by, action: 'job.cancel', target: { kind: 'job', id }, before: { state: before.state }, after: { state: 'cancelled' } });
    });
    return this.get(id);
  }

  async workers(): Promise<Array<{ id: string; maxJobs: number; startedAt: string; heartbeatAt: string; runningBatches: number }>> {
    const found = await this.#pool.query<{ id: string; max_jobs: number; started_at: Date; heartbeat_at: Date; running: number }>(
      `SELECT w.id, w.max_jobs, w.started_at, w.heartbeat_at,
              (SELECT count(*) FROM lake_job_batches b WHERE b.worker = w.id AND b.state = 'running')::int AS running
         FROM lake_workers w WHERE w.heartbeat_at > now() - interval '10 minutes' ORDER BY w.id`,
    );
    return found.rows.map((w) => ({ id: w.id, maxJobs: w.max_jobs, startedAt: w.started_at.toISOString(), heartbeatAt: w.heartbeat_at.toISOString(), runningBatches: w.running }));
  }
}

async function lockJob(client: pg.PoolClient, id: string): Promise<{ state: JobState }> {
  const found = await client.query<{ state: JobState }>('SELECT state FROM lake_jobs WHERE id = $1 FOR UPDATE', [id]);
  const row = found.rows[0];
  if (!row) throw NotFoundError(`job ${id} does not exist`);
  return row;
}

function summary(row: JobRow): JobSummary {
  return {
    id: row.id,
    dataset: row.dataset,
    kind: row.kind,
    source: row.spec,
    state: row.state,
    error: row.error,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    plannedAt: row.planned_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
    progress: progressOf(row),
  };
}

/** Rates over the time since planning (or start) until now or the end; the ETA from the bytes (or records, or batches) left. */
export function progressOf(row: Pick<JobRow, 'total' | 'pending' | 'running' | 'done' | 'failed' | 'cancelled' | 'records' | 'bytes' | 'done_bytes' | 'planned_records' | 'planned_bytes' | 'started_at' | 'planned_at' | 'finished_at' | 'now' | 'state'>): JobProgress {
  const records = Number(row.records);
  const bytes = Number(row.bytes);
  const plannedRecords = row.planned_records === null ? null : Number(row.planned_records);
  const plannedBytes = row.planned_bytes === null ? null : Number(row.planned_bytes);
  const since = row.planned_at ?? row.started_at;
  const until = row.finished_at ?? row.now;
  const seconds = since === null ? 0 : Math.max(0.001, (until.getTime() - since.getTime()) / 1000);
  const recordsPerSecond = seconds === 0 ? 0 : round(records / seconds);
  const bytesPerSecond = seconds === 0 ? 0 : round(bytes / seconds);
  const settled = row.done + row.failed + row.cancelled;
  let fraction: number | null = null;
  if (row.total > 0) {
    if (plannedBytes !== null && plannedBytes > 0) fraction = Math.min(1, bytes / plannedBytes);
    else if (plannedRecords !== null && plannedRecords > 0) fraction = Math.min(1, records / plannedRecords);
    else fraction = settled / row.total;
  }
  if (FINAL.includes(row.state) && row.state === 'succeeded') fraction = 1;
  let etaSeconds: number | null = null;
  if (!FINAL.includes(row.state) && fraction !== null && fraction > 0 && seconds > 0 && settled > 0) {
    etaSeconds = round((seconds * (1 - fraction)) / fraction);
  }
  return {
    batches: { total: row.total, pending: row.pending, running: row.running, done: row.done, failed: row.failed, cancelled: row.cancelled },
    records,
    bytes,
    plannedRecords,
    plannedBytes,
    recordsPerSecond,
    bytesPerSecond,
    percent: fraction === null ? null : round(fraction * 100),
    etaSeconds,
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^job_[0-9a-f]{32}$/.test(id)) throw InputError('cursor is not one this API returned');
  return id;
}
