-- Up Migration
-- Ingestion jobs (control-plane/src/lake/jobs/): a job is planned into batches once, then worker processes
-- claim batches with FOR UPDATE SKIP LOCKED. A claim is a lease: a worker that dies (kill -9) stops renewing
-- it and another worker takes the batch again; record ids come from the source, so the re-run adds nothing.
CREATE TABLE lake_jobs (
  id text PRIMARY KEY,
  dataset text NOT NULL,
  kind text NOT NULL,
  spec jsonb NOT NULL,
  options jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- created: stored, not started; queued: started, waiting to be planned; running: batches planned;
  -- succeeded / failed / cancelled: final.
  state text NOT NULL CHECK (state IN ('created', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
  error text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  planned_at timestamptz,
  finished_at timestamptz,
  -- Set while a worker plans the job (a planning lease, like a batch's).
  planner text,
  plan_lease_until timestamptz
);
CREATE INDEX lake_jobs_state ON lake_jobs (state, created_at);
CREATE INDEX lake_jobs_dataset ON lake_jobs (dataset, created_at DESC);
CREATE INDEX lake_jobs_created ON lake_jobs (created_at DESC, id DESC);

CREATE TABLE lake_job_batches (
  job_id text NOT NULL REFERENCES lake_jobs (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  key text NOT NULL,
  input jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  worker text,
  lease_until timestamptz,
  planned_records bigint,
  planned_bytes bigint,
  records bigint NOT NULL DEFAULT 0,
  bytes bigint NOT NULL DEFAULT 0,
  -- Per-record problems of a batch that succeeded (bad lines went to the DLQ): [{ position, reason }].
  errors jsonb NOT NULL DEFAULT '[]'::jsonb,
  error text,
  started_at timestamptz,
  finished_at timestamptz,
  PRIMARY KEY (job_id, seq),
  UNIQUE (job_id, key)
);
CREATE INDEX lake_job_batches_claim ON lake_job_batches (job_id, seq) WHERE state IN ('pending', 'running');

-- Worker processes announce themselves (GET /api/v1/ingestion/workers, the CLI).
CREATE TABLE lake_workers (
  id text PRIMARY KEY,
  max_jobs integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE lake_workers;
DROP TABLE lake_job_batches;
DROP TABLE lake_jobs;
