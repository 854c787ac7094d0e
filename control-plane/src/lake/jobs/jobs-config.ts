/**
 * Settings of ingestion jobs and the `worker` process (SLUICE_JOB_*, SLUICE_WORKER_*), read by config.ts.
 */
import { isAbsolute, resolve } from 'node:path';

export interface JobsSettings {
  /** Jobs one worker process runs at once (each on its own batch); more jobs wait their turn. */
  workerMaxJobs: number;
  /** A claimed batch's lease: a worker renews it every third of it; a dead worker's batch is taken over after it. */
  leaseMs: number;
  /** How often an idle worker looks for work. */
  pollMs: number;
  /** Attempts after the first for a batch failing with a retryable error (S3, Kafka, HTTP outages). */
  batchRetries: number;
  /** Folders a `folder` job may read (absolute, resolved); none: folder jobs are refused. */
  folderRoots: string[];
  /** Planned batch size: files of a batch together at most this many bytes (one file may be larger). */
  batchBytes: number;
  /** ...and at most this many files. */
  batchFiles: number;
}

export function jobsSettings(env: NodeJS.ProcessEnv, int: (env: NodeJS.ProcessEnv, key: string, fallback: number) => number): JobsSettings {
  const roots = (env.SLUICE_JOB_FOLDER_ROOTS ?? '').split(':').filter((r) => r.trim() !== '');
  for (const root of roots) {
    if (!isAbsolute(root)) throw new Error(`SLUICE_JOB_FOLDER_ROOTS must list absolute paths separated by ':', got ${JSON.stringify(root)}`);
  }
  return {
    workerMaxJobs: Math.max(1, int(env, 'SLUICE_WORKER_MAX_JOBS', 5)),
    leaseMs: Math.max(1_000, int(env, 'SLUICE_JOB_LEASE_MS', 30_000)),
    pollMs: Math.max(50, int(env, 'SLUICE_JOB_POLL_MS', 1_000)),
    batchRetries: int(env, 'SLUICE_JOB_BATCH_RETRIES', 5),
    folderRoots: roots.map((r) => resolve(r)),
    batchBytes: Math.max(1, int(env, 'SLUICE_JOB_BATCH_BYTES', 16 * 1024 * 1024)),
    batchFiles: Math.max(1, int(env, 'SLUICE_JOB_BATCH_FILES', 64)),
  };
}
