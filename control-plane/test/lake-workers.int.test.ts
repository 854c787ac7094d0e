/**
 * Worker processes and their limits on the real stack, with `urls` jobs served by a local HTTP server that
 * holds chosen requests open (so a batch stays running as long as the test wants):
 * - a worker with limit 5 runs five jobs and queues the sixth;
 * - cancel stops a running job and frees its slot;
 * - two workers share one job, batch by batch;
 * - a batch failing with a retryable error (a 503) is run again by the worker's retry, its records land once;
 * - a worker CHILD process killed with SIGKILL mid-batch (part of the batch already published): another
 *   worker takes the batch over after its lease, and every record is in PostgreSQL exactly once;
 * - a job of many quick batches: each batch is claimed once (a lease renewal that falls between two batches
 *   of a slot must not abort the slot and strand the batch it just claimed until its lease runs out).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import { createLogger } from '@sluice/shared/node/logger';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { startConsumer, type RunningConsumer } from '../src/consumer/consumer-service.ts';
import { DatasetStore } from '../src/datasets/dataset-store.ts';
import { JobStore } from '../src/lake/jobs/job-store.ts';
import { builtInJobKinds, jobKindRegistry } from '../src/lake/jobs/kinds.ts';
import { JobKindRegistry, type JobKind } from '../src/lake/jobs/registry.ts';
import { LakeWorker } from '../src/lake/jobs/worker.ts';
import { childEnv, countRows, createTopics, testConfig, waitFor } from './support/harness.ts';
import { freshState, stackEnv } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-control-plane.js', import.meta.url));
const schema = { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } as const;
const LINES = 50;

let state: Awaited<ReturnType<typeof freshState>>;
let config: ReturnType<typeof testConfig>;
let producer: KafkaProducer;
let consumer: RunningConsumer | undefined;
let server: TestServer;
let files: Server;
let base = '';
let key = '';
const workers: LakeWorker[] = [];
const logger = createLogger('lake-workers-int', { level: 'warn' });

/** Paths under /hold/ wait here until released; the rest answer at once. */
const held = new Map<string, ServerResponse>();
let holding = true;
/** Paths under /flaky/ answer 503 the first time they are asked. */
const flaked = new Set<string>();

function body(path: string): string {
  // Distinct numbers per path, so the table's count says which files landed.
  const seed = [...path].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 7);
  return Array.from({ length: LINES }, (_, i) => JSON.stringify({ n: seed * 1000 + i })).join('\n');
}

function release(): void {
  for (const [path, res] of held) res.end(body(path));
  held.clear();
}

beforeAll(async () => {
  state = await freshState();
  config = testConfig(state.schema, { SLUICE_JOB_POLL_MS: '100', SLUICE_JOB_LEASE_MS: '2500' });
  producer = new KafkaProducer({ brokers: stackEnv.kafkaBrokers, clientId: 'lake-workers-int' });
  await new DatasetStore(state.pool).create({ name: 'lw', sinks: { postgres: { enabled: true } } }, schema);
  await createTopics(config, [`${config.topicPrefix}lw`, config.dlqTopic]);
  files = createServer((req, res) => {
    const path = req.url ?? '/';
    res.setHeader('etag', `"${path}"`);
    if (path.startsWith('/flaky/') && !flaked.has(path)) {
      flaked.add(path);
      res.writeHead(503).end();
    } else if (path.startsWith('/hold/') && holding) {
      held.set(path, res);
      // A request its worker gave up on (an aborted batch) is not held any more: `held` counts live requests.
      res.once('close', () => {
        if (held.get(path) === res) held.delete(path);
      });
    }
    else res.end(body(path));
  });
  files.listen(0, '127.0.0.1');
  await once(files, 'listening');
  base = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;
  server = await testServer(state.pool, { topicPrefix: config.topicPrefix });
  key = (await new ApiKeyStore(state.pool).create('operator', 'workers test')).key;
  consumer = await startConsumer(config, logger);
});

afterAll(async () => {
  release();
  for (const w of workers) await w.stop();
  await consumer?.stop();
  await server?.close();
  await producer?.close();
  files?.closeAllConnections();
  files?.close();
  await state?.pool.query(`DROP SCHEMA IF EXISTS ${config.dataSchema} CASCADE`);
  await state?.drop();
});

async function startWorker(maxJobs = 5, registry = jobKindRegistry(), leaseMs = config.jobs.leaseMs): Promise<LakeWorker> {
  const worker = new LakeWorker({ pool: state.pool, config: { ...config, jobs: { ...config.jobs, workerMaxJobs: maxJobs, leaseMs } }, logger, registry, datasets: new DatasetStore(state.pool), send: (m) => producer.send(m) });
  await worker.start();
  workers.push(worker);
  return worker;
}

async function stopWorkers(): Promise<void> {
  release();
  for (const w of workers.splice(0)) await w.stop();
}

async function api<T>(method: 'GET' | 'POST', url: string, payload?: unknown): Promise<T> {
  const res = await server.app.inject({ method, url, headers: { authorization: `Bearer ${key}` }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return res.json<T>();
}

interface Job { id: string; state: string }

const createJob = (urls: string[]): Promise<Job> => api<Job>('POST', '/api/v1/ingestion/jobs', { dataset: 'lw', source: { kind: 'urls', urls: urls.map((u) => `${base}${u}`) }, start: true });
const jobState = async (id: string): Promise<string> => (await api<Job>('GET', `/api/v1/ingestion/jobs/${id}`)).state;
const finished = (id: string): Promise<string> => waitFor('the job to end', () => jobState(id), (s) => ['succeeded', 'failed', 'cancelled'].includes(s), 60_000);
const rows = (): Promise<number> => countRows(state.pool, `${config.dataSchema}.lw`).catch(() => 0);

describe('lake workers', () => {
  it('runs at most 5 jobs at once on a worker: the sixth waits, then runs', async () => {
    await startWorker(5);
    const jobs: Job[] = [];
    for (let i = 0; i < 6; i++) jobs.push(await createJob([`/hold/limit-${i}`]));
    await waitFor('five held requests', () => Promise.resolve(held.size), (n) => n === 5, 30_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(held.size).toBe(5);
    const states = await Promise.all(jobs.map((j) => jobState(j.id)));
    expect(states.filter((s) => s === 'running')).toHaveLength(5);
    expect(states.filter((s) => s === 'queued')).toHaveLength(1);
    release();
    await waitFor('the sixth request', () => Promise.resolve(held.size), (n) => n === 1, 30_000);
    release();
    for (const job of jobs) expect(await finished(job.id)).toBe('succeeded');
    await waitFor('rows loaded', rows, (n) => n === 6 * LINES, 60_000);
    await stopWorkers();
  });

  it('cancels a running job and frees its slot', async () => {
    await startWorker(1);
    const job = await createJob(['/hold/cancel-me']);
    await waitFor('the held request', () => Promise.resolve(held.has('/hold/cancel-me')), Boolean, 30_000);
    expect((await api<Job>('POST', `/api/v1/ingestion/jobs/${job.id}/cancel`)).state).toBe('cancelled');
    held.delete('/hold/cancel-me');
    const next = await createJob(['/after-cancel']);
    expect(await finished(next.id)).toBe('succeeded');
    expect(await jobState(job.id)).toBe('cancelled');
    await stopWorkers();
  });

  it('shares one job between two workers, batch by batch', async () => {
    const before = await rows();
    const first = await startWorker(1);
    const second = await startWorker(1);
    // 16 URLs a batch: three batches, the first two held.
    const urls = Array.from({ length: 40 }, (_, i) => (i === 0 || i === 16 ? `/hold/share-${i}` : `/share-${i}`));
    const job = await createJob(urls);
    await waitFor('two held batches', () => Promise.resolve(held.size), (n) => n === 2, 30_000);
    const running = await state.pool.query<{ worker: string }>(`SELECT worker FROM lake_job_batches WHERE job_id = $1 AND state = 'running'`, [job.id]);
    expect(new Set(running.rows.map((r) => r.worker))).toEqual(new Set([first.id, second.id]));
    release();
    expect(await finished(job.id)).toBe('succeeded');
    await waitFor('rows loaded', rows, (n) => n === before + 40 * LINES, 60_000);
    await stopWorkers();
  });

  it("runs a batch that failed with a retryable error again (the worker's retry): every record once", async () => {
    const before = await rows();
    await startWorker(1);
    // One batch: the first URL is published, then the second answers 503, so the whole batch runs again.
    const job = await createJob(['/retry-first', '/flaky/retry-second']);
    expect(await finished(job.id)).toBe('succeeded');
    const batches = await state.pool.query<{ attempts: number; error: string | null }>('SELECT attempts, error FROM lake_job_batches WHERE job_id = $1', [job.id]);
    expect(batches.rows).toEqual([{ attempts: 2, error: null }]);
    expect(flaked.has('/flaky/retry-second')).toBe(true);
    await waitFor('rows loaded', rows, (n) => n === before + 2 * LINES, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await rows()).toBe(before + 2 * LINES);
    await stopWorkers();
  });

  it('a worker killed with SIGKILL mid-batch: the batch is taken over, every record once', async () => {
    const before = await rows();
    const child: ChildProcess = spawn(process.execPath, [BIN, 'worker'], {
      env: { ...childEnv(config), SLUICE_JOB_POLL_MS: '100', SLUICE_JOB_LEASE_MS: '2500' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const exited = once(child, 'exit');
    // One batch: the first URL is published before the second, which the child waits for when it dies.
    const job = await createJob(['/killed-first', '/hold/killed-second']);
    await waitFor('the held request', () => Promise.resolve(held.has('/hold/killed-second')), Boolean, 60_000);
    await waitFor('the first file loaded', rows, (n) => n === before + LINES, 60_000);
    child.kill('SIGKILL');
    await exited;
    held.delete('/hold/killed-second');
    holding = false;
    await startWorker(1);
    expect(await finished(job.id)).toBe('succeeded');
    await waitFor('rows loaded', rows, (n) => n === before + 2 * LINES, 60_000);
    const attempts = await state.pool.query<{ attempts: number }>('SELECT attempts FROM lake_job_batches WHERE job_id = $1', [job.id]);
    expect(attempts.rows).toEqual([{ attempts: 2 }]);
    // Without Last-Modified the event time is the batch's planning time, the same in both runs (not the run's clock).
    const planned = await state.pool.query<{ at: string }>(`SELECT input->>'plannedAt' AS at FROM lake_job_batches WHERE job_id = $1`, [job.id]);
    expect(Number((await state.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${config.dataSchema}.lw WHERE event_time = $1`, [planned.rows[0]!.at])).rows[0]!.n)).toBe(2 * LINES);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await rows()).toBe(before + 2 * LINES);
    holding = true;
    await stopWorkers();
  });

  it('runs a job of many quick batches with each batch claimed once, whenever the lease renewals fall', async () => {
    const BATCHES = 300;
    // Batches that publish nothing and end at once: a slot spends about as long between two batches as in one.
    const quick: JobKind<Record<string, never>, { n: number }> = {
      kind: 'quick',
      specSchema: { type: 'object' },
      plan: () => Promise.resolve(Array.from({ length: BATCHES }, (_, n) => ({ key: `quick:${n}`, input: { n } }))),
      run: () => Promise.resolve({ records: 1, bytes: 0 }),
    };
    // A 1 s lease renews every 333 ms: several renewals land while the slot moves from one batch to the next.
    await startWorker(1, new JobKindRegistry([...builtInJobKinds(), quick]), 1_000);
    const job = await new JobStore(state.pool).create({ dataset: 'lw', kind: 'quick', spec: {}, start: true }, { actor: { kind: 'system', id: 'test' } });
    expect(await finished(job.id)).toBe('succeeded');
    const runs = await state.pool.query<{ attempts: number; n: string }>('SELECT attempts, count(*) AS n FROM lake_job_batches WHERE job_id = $1 GROUP BY attempts', [job.id]);
    expect(runs.rows).toEqual([{ attempts: 1, n: String(BATCHES) }]);
    await stopWorkers();
  });
});
