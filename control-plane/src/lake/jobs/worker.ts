/**
 * The worker process (`sluice-control-plane worker`): runs lake jobs in batches claimed from PostgreSQL
 * (claims.ts). It has `maxJobs` slots; a slot takes a job (plans it, or joins it at its next free batch) and
 * keeps to it until the job has no batch left to claim, so at most `maxJobs` jobs run here at once and the
 * next waits. More workers share the same jobs batch by batch. A batch failing with a retryable error is run
 * again with backoff (shared/node/retry.ts); the lease makes a killed worker's batch someone else's.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import { isSluiceError } from '@sluice/shared/errors';
import type { ControlPlaneConfig } from '../../config.ts';
import type { DatasetStore } from '../../datasets/dataset-store.ts';
import { claimBatch, claimPlanning, failJob, finishIfDone, heartbeat, loadJob, settleBatch, storePlan, type BatchClaim, type ClaimedJob } from './claims.ts';
import { publishRecords } from './publish.ts';
import type { JobKindRegistry } from './registry.ts';

export interface WorkerDeps {
  pool: pg.Pool;
  config: ControlPlaneConfig;
  logger: Logger;
  registry: JobKindRegistry;
  datasets: DatasetStore;
  send: (messages: readonly OutgoingMessage[]) => Promise<void>;
}

interface Slot {
  jobId: string;
  abort: AbortController;
  planning: boolean;
  batch: { seq: number; records: number; bytes: number } | undefined;
  done: Promise<void>;
}

export class LakeWorker {
  readonly id: string;
  readonly #deps: WorkerDeps;
  readonly #settings: ControlPlaneConfig['jobs'];
  readonly #slots = new Map<string, Slot>();
  readonly #stop = new AbortController();
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #beat: NodeJS.Timeout | undefined;

  constructor(deps: WorkerDeps, id = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`) {
    this.#deps = deps;
    this.#settings = deps.config.jobs;
    this.id = id;
  }

  async start(): Promise<void> {
    await this.#heartbeat();
    this.#beat = setInterval(() => void this.#heartbeat().catch((error: unknown) => this.#deps.logger.warn({ err: error }, 'job heartbeat failed')), Math.max(200, Math.floor(this.#settings.leaseMs / 3)));
    this.#loop = this.#run();
    this.#deps.logger.info({ worker: this.id, maxJobs: this.#settings.workerMaxJobs }, 'lake worker started');
  }

  /** Stops claiming, aborts the running batches and hands them back (pending again) for another worker. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#wake?.();
    for (const slot of this.#slots.values()) slot.abort.abort();
    await this.#loop;
    await Promise.allSettled([...this.#slots.values()].map((s) => s.done));
    clearInterval(this.#beat);
  }

  /** Ids of the jobs this worker runs now. */
  runningJobs(): string[] {
    return [...this.#slots.keys()];
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      try {
        while (this.#slots.size < this.#settings.workerMaxJobs && !this.#stop.signal.aborted) {
          const busy = [...this.#slots.keys()];
          const claim = (await claimBatch(this.#deps.pool, this.id, this.#settings.leaseMs, undefined, busy)) ?? (await claimPlanning(this.#deps.pool, this.id, this.#settings.leaseMs, busy));
          if (claim === undefined) break;
          this.#open(claim.jobId, claim.type === 'batch' ? claim : undefined);
        }
      } catch (error) {
        this.#deps.logger.warn({ err: error }, 'claiming lake job work failed; trying again');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#settings.pollMs);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  #open(jobId: string, first: BatchClaim | undefined): void {
    const slot: Slot = { jobId, abort: new AbortController(), planning: first === undefined, batch: undefined, done: Promise.resolve() };
    this.#slots.set(jobId, slot);
    slot.done = this.#work(slot, first)
      .catch((error: unknown) => this.#deps.logger.error({ err: error, job: jobId }, 'lake job slot failed'))
      .finally(() => {
        this.#slots.delete(jobId);
        this.#wake?.();
      });
  }

  async #work(slot: Slot, first: BatchClaim | undefined): Promise<void> {
    const job = await loadJob(this.#deps.pool, slot.jobId);
    if (job === undefined) return;
    const signal = AbortSignal.any([slot.abort.signal, this.#stop.signal]);
    if (first === undefined) {
      await this.#plan(job, signal);
      slot.planning = false;
    }
    const next = (): Promise<BatchClaim | undefined> => (signal.aborted ? Promise.resolve(undefined) : claimBatch(this.#deps.pool, this.id, this.#settings.leaseMs, job.id, []));
    let claim = first ?? (await next());
    while (claim !== undefined) {
      // Aborted while the claim was on its way: give the batch back now rather than leave it to its lease.
      if (signal.aborted) return this.#release(slot, claim);
      await this.#runBatch(slot, job, claim, signal);
      claim = await next();
    }
  }

  /** A claimed batch this slot will not run: cancelled with its job, or pending again for any worker. */
  async #release(slot: Slot, claim: BatchClaim): Promise<void> {
    const state = slot.abort.signal.aborted ? 'cancelled' : 'pending';
    await settleBatch(this.#deps.pool, this.id, claim, { state, error: state === 'cancelled' ? 'job cancelled' : null }).catch(() => undefined);
  }

  async #plan(job: ClaimedJob, signal: AbortSignal): Promise<void> {
    const { logger } = this.#deps;
    const kind = this.#deps.registry.get(job.kind);
    if (kind === undefined) return failJob(this.#deps.pool, job.id, `no job kind ${job.kind} on worker ${this.id}`);
    try {
      const batches = await withRetry(() => kind.plan(job, { pool: this.#deps.pool, config: this.#deps.config, logger, signal }), {
        retries: this.#settings.batchRetries,
        minDelayMs: 500,
        maxDelayMs: 15_000,
        signal,
        onRetry: (error, attempt) => logger.warn({ job: job.id, attempt, err: error }, 'planning failed; retrying'),
      });
      const stored = await storePlan(this.#deps.pool, this.id, job.id, batches);
      logger.info({ job: job.id, batches: batches.length, stored }, 'lake job planned');
    } catch (error) {
      if (signal.aborted) return;
      await failJob(this.#deps.pool, job.id, `planning failed: ${messageOf(error)}`);
    }
  }

  async #runBatch(slot: Slot, job: ClaimedJob, claim: BatchClaim, signal: AbortSignal): Promise<void> {
    const { pool, logger, config } = this.#deps;
    slot.batch = { seq: claim.seq, records: 0, bytes: 0 };
    const progress = slot.batch;
    const kind = this.#deps.registry.get(job.kind);
    try {
      if (kind === undefined) throw new Error(`no job kind ${job.kind} on worker ${this.id}`);
      const dataset = await this.#deps.datasets.latest(job.dataset);
      if (dataset === undefined) throw new Error(`dataset ${job.dataset} does not exist`);
      const refused: Array<{ position: string; reason: string }> = [];
      const target = { dataset, jobId: job.id, jobKind: job.kind, topicPrefix: config.topicPrefix, maxRecordBytes: config.maxRecordBytes, send: this.#deps.send };
      const result = await withRetry(
        async (attempt) => {
          progress.records = 0;
          progress.bytes = 0;
          refused.length = 0;
          return kind.run(
            { jobId: job.id, dataset: job.dataset, key: claim.key, seq: claim.seq, input: claim.input, attempt: claim.attempts + attempt - 1, spec: job.spec },
            {
              pool,
              config,
              logger,
              signal,
              publish: async (records) => {
                refused.push(...(await publishRecords(target, records)));
              },
              progress: (delta) => {
                progress.records += delta.records ?? 0;
                progress.bytes += delta.bytes ?? 0;
              },
            },
          );
        },
        {
          retries: this.#settings.batchRetries,
          minDelayMs: 500,
          maxDelayMs: 15_000,
          signal,
          isRetryable: (error) => error instanceof RetryableError || isSluiceError(error, 'UnavailableError'),
          onRetry: (error, attempt, delayMs) => {
            logger.warn({ job: job.id, batch: claim.key, attempt, delayMs, err: error }, 'batch failed; retrying');
            void pool.query('UPDATE lake_job_batches SET attempts = attempts + 1, error = $3 WHERE job_id = $1 AND seq = $2 AND worker = $4', [job.id, claim.seq, `attempt failed, retrying: ${error.message}`, this.id]).catch(() => undefined);
          },
        },
      );
      await settleBatch(pool, this.id, claim, { state: 'done', records: result.records, bytes: result.bytes, errors: [...(result.errors ?? []), ...refused], error: null });
    } catch (error) {
      if (signal.aborted) {
        // Cancelled: the batch is cancelled too. Shutting down: pending again, for any worker at once.
        await this.#release(slot, claim);
        return;
      }
      logger.warn({ job: job.id, batch: claim.key, err: error }, 'batch failed');
      await settleBatch(pool, this.id, claim, { state: 'failed', error: messageOf(error), records: progress.records, bytes: progress.bytes });
    } finally {
      slot.batch = undefined;
    }
    await finishIfDone(pool, job.id);
  }

  async #heartbeat(): Promise<void> {
    const slots = [...this.#slots.values()];
    const running = slots.flatMap((s) => (s.batch ? [{ jobId: s.jobId, ...s.batch }] : []));
    const planning = slots.filter((s) => s.planning).map((s) => s.jobId);
    // Every slot's job, also one between two batches (no lease to renew): a job missing from the answer is gone.
    const jobs = slots.map((s) => s.jobId);
    const states = await heartbeat(this.#deps.pool, this.id, this.#settings.workerMaxJobs, this.#settings.leaseMs, running, planning, jobs);
    for (const slot of slots) {
      const state = states.get(slot.jobId);
      if (state === 'cancelled' || state === 'failed' || state === undefined) slot.abort.abort();
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
