/**
 * The job-kind registry: what a kind of lake job (an ingestion source, compaction) tells the worker. A kind
 * plans a job into batches once (stored in PostgreSQL, claimed by workers one at a time) and runs one batch.
 *
 * A batch must be idempotent: a worker killed mid-batch leaves it to another worker, which runs it again
 * from the start. Ingestion kinds get that from record ids derived from the source object and position
 * (the stores keep each id once); compaction from its own atomic swap.
 *
 * Errors: a `RetryableError` (shared/node/retry.ts) is tried again with backoff; anything else fails the
 * batch with its message (the job then ends `failed`, the other batches still run).
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import type { ControlPlaneConfig } from '../../config.ts';

export interface PlannedBatch {
  /** Unique within the job and stable (e.g. `s3:<etag>:<key>`): planning again yields the same keys. */
  key: string;
  /** What `run` needs, as JSON (stored in lake_job_batches.input). */
  input: unknown;
  /** Expected records and bytes, when known (for the ETA). */
  records?: number;
  bytes?: number;
}

export interface JobView<Spec = unknown> {
  id: string;
  dataset: string;
  spec: Spec;
  options: Record<string, unknown>;
}

export interface BatchView<Input = unknown, Spec = unknown> {
  jobId: string;
  dataset: string;
  key: string;
  seq: number;
  input: Input;
  /** 1 for the first run of this batch (also across workers: a batch taken over after a crash counts up). */
  attempt: number;
  spec: Spec;
}

export interface PlanContext {
  pool: pg.Pool;
  config: ControlPlaneConfig;
  logger: Logger;
  /** Aborted when the job is cancelled or the worker shuts down: stop soon and throw. */
  signal: AbortSignal;
}

/** One record to publish: `id` derived from the source (shared/src/record-id.ts), never random. */
export interface JobRecord {
  id: string;
  /** The parsed payload, or undefined with `parseError` for input that is not a record (it goes to the DLQ). */
  payload?: unknown;
  parseError?: { reason: string; raw: string; rawEncoding?: 'utf8' | 'base64' };
  /** ISO time; the source object's time by default, so a re-run publishes the very same envelope. */
  eventTime: string;
  /** Where it came from, e.g. `{ object: 's3://b/k', line: 12 }` (kept in the envelope's source). */
  position: Record<string, string | number>;
}

export interface BatchContext extends PlanContext {
  /** Publishes envelopes to the dataset's Kafka topic (acks=all), like every other way in. */
  publish(records: readonly JobRecord[]): Promise<void>;
  /** Optional progress within a long batch (shown by GET and the CLI; the batch's result replaces it). */
  progress(delta: { records?: number; bytes?: number }): void;
}

export interface BatchResult {
  records: number;
  bytes: number;
  /** Per-record problems of a batch that otherwise succeeded (those records went to the DLQ). */
  errors?: Array<{ position: string; reason: string }>;
}

export interface JobKind<Spec = unknown, Input = unknown> {
  /** The `source.kind` of POST /api/v1/ingestion/jobs. */
  kind: string;
  /** JSON Schema of the job's `source` object, its `kind` property included (checked by the route). */
  specSchema: Record<string, unknown>;
  /** Checks beyond the schema (allowed roots, reachable buckets...); throw InputError for a permanent 400. */
  validate?(spec: Spec, ctx: Omit<PlanContext, 'signal'>): Promise<void> | void;
  plan(job: JobView<Spec>, ctx: PlanContext): Promise<PlannedBatch[]>;
  run(batch: BatchView<Input, Spec>, ctx: BatchContext): Promise<BatchResult>;
}

export class JobKindRegistry {
  readonly #kinds = new Map<string, JobKind>();

  constructor(kinds: readonly JobKind[] = []) {
    for (const kind of kinds) this.register(kind);
  }

  register<S, I>(kind: JobKind<S, I>): void {
    if (this.#kinds.has(kind.kind)) throw new TypeError(`job kind ${kind.kind} is registered twice`);
    this.#kinds.set(kind.kind, kind);
  }

  get(kind: string): JobKind | undefined {
    return this.#kinds.get(kind);
  }

  names(): string[] {
    return [...this.#kinds.keys()].sort();
  }

  /** The POST body's `source`: one of the kinds' schemas. */
  sourceSchema(): Record<string, unknown> {
    return { oneOf: [...this.#kinds.values()].map((k) => k.specSchema) };
  }
}
