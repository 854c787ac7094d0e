/**
 * Fleet check-in at scale, printing one JSON object: a real `sluice-control-plane serve` process (its own
 * state schema, dropped after) on the local stack, and simulated agents (bench/fleet-agents.ts, in their own
 * processes) that enroll with a real token and check in every 10 s (waitSeconds 0, spread evenly). The fleet
 * grows step by step (1k, 5k, 10k by default); after each step's ramp, a steady window measures:
 *   - check-in latency p50 / p95 / p99 / max as the agents see it (request sent → answer read), check-ins/s,
 *     errors, check-ins sent late because the previous one was still unanswered;
 *   - the control plane's CPU seconds per second and RSS (/proc/<pid>/stat and status);
 *   - PostgreSQL: commits/s and row writes/s (tup_inserted + tup_updated + tup_deleted) of the whole database
 *     from pg_stat_database (other users of the shared stack count too), the same for the bench's schema
 *     alone (pg_stat_user_tables), and WAL bytes/s;
 *   - the simulators' CPU and event-loop delay (is the client the bottleneck?) and the machine's load.
 *
 *   npm run bench:fleet -- [--steps 1000,5000,10000] [--seconds 60] [--quick] [--workers 2]
 *                          [--connections 32] [--interval 10] [--profile DIR] [--no-policy]
 * --quick: 200 agents for 10 s (a smoke run). --profile: the serve process runs with --cpu-prof, its profile
 * goes to DIR (open it in Chrome DevTools → Performance).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { deleteTopics, listTopics } from '@sluice/shared/node/kafka';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { stopProcess } from '@sluice/shared/node/testing/processes';
import type { AddedReport, StatusReport, WindowReport, WorkerOptions } from './fleet-agents.ts';
import { percentile } from './lib/latency.ts';
import { machineLoad, processCost, type ProcessCost } from './lib/process-meter.ts';
import { startServe } from './lib/serve-process.ts';

const { values: flags } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,5000,10000' },
    seconds: { type: 'string', default: '60' },
    quick: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    connections: { type: 'string', default: '1024' },
    interval: { type: 'string', default: '10' },
    profile: { type: 'string' },
    'no-policy': { type: 'boolean', default: false },
  },
});
const steps = (flags.quick ? '200' : flags.steps).split(',').map(Number);
const seconds = flags.quick ? 10 : Number(flags.seconds);
const intervalMs = Number(flags.interval) * 1000;
const workerCount = Math.max(1, Number(flags.workers));
if (steps.some((n) => !Number.isInteger(n) || n < 1) || !(seconds > 0) || !(intervalMs > 0)) throw new Error('--steps takes agent counts like 1000,5000; --seconds and --interval positive numbers');
const TARGET = { agents: 10_000, p99Ms: 50 };
const ENROLL_TOKENS = 10;

const stack = loadStackEnv();
const id = randomBytes(3).toString('hex');
const stateSchema = `bench_fleet_${id}`;
const dataSchema = `bench_fleet_data_${id}`;
const topicPrefix = `sluicebench${id}.`;
const adminKey = `slk_${randomBytes(24).toString('base64url')}`;
/** A measured process's cost now; one that exited mid-measurement fails the bench rather than reading 0. */
function costOf(pid: number): ProcessCost {
  const cost = processCost(pid);
  if (cost === undefined) throw new Error(`process ${String(pid)} exited during the measurement`);
  return cost;
}

const cpuSeconds = (pid: number): number => costOf(pid).cpuSeconds;
const rssMb = (pid: number): number => Math.round(costOf(pid).rssBytes / 1024 / 1024);

interface PgCounters {
  at: number;
  commits: number;
  rowWrites: number;
  schemaRowWrites: number;
  walLsn: string;
}

async function pgCounters(client: pg.Client): Promise<PgCounters> {
  // A fresh snapshot each time: the statistics views are otherwise cached for the transaction.
  await client.query('SELECT pg_stat_clear_snapshot()');
  const db = await client.query<{ commits: string; writes: string; lsn: string }>(
    `SELECT xact_commit AS commits, tup_inserted + tup_updated + tup_deleted AS writes, pg_current_wal_lsn()::text AS lsn
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  const schema = await client.query<{ writes: string | null }>('SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) AS writes FROM pg_stat_user_tables WHERE schemaname = $1', [stateSchema]);
  return { at: performance.now(), commits: Number(db.rows[0]!.commits), rowWrites: Number(db.rows[0]!.writes), schemaRowWrites: Number(schema.rows[0]?.writes ?? 0), walLsn: db.rows[0]!.lsn };
}

async function api(baseUrl: string, method: string, route: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text.length > 0 ? (JSON.parse(text) as unknown) : undefined };
}

/**
 * A policy selecting every agent, so the agents run a desired revision (the common case: its hash is checked
 * on every check-in). Said in the output when the control plane refuses it rather than failing the bench.
 */
async function publishPolicy(baseUrl: string): Promise<string> {
  for (const name of ['bench_ds_0', 'bench_ds_1', 'bench_ds_2']) {
    const created = await api(baseUrl, 'POST', '/api/v1/datasets', { name, sinks: {}, schema: { type: 'object' } });
    if (created.status !== 201) return `dataset ${name}: HTTP ${String(created.status)} ${JSON.stringify(created.json)}`;
  }
  const policy = await api(baseUrl, 'POST', '/api/v1/policies', { name: 'bench', description: 'every bench agent', selector: { labels: {} }, priority: 0 });
  if (policy.status !== 201) return `policy: HTTP ${String(policy.status)} ${JSON.stringify(policy.json)}`;
  const sources = [0, 1, 2].map((i) => ({ type: 'http-poll', id: `poll-${String(i)}`, dataset: `bench_ds_${String(i)}`, url: `http://127.0.0.1:9/metrics-${String(i)}`, intervalMs: 60_000 }));
  const revision = await api(baseUrl, 'POST', '/api/v1/policies/bench/revisions', { config: { sources }, message: 'bench' });
  return revision.status === 201 ? 'published (3 http-poll sources, all agents)' : `revision: HTTP ${String(revision.status)} ${JSON.stringify(revision.json)}`;
}

interface Waiting {
  answer: string;
  resolve: (message: unknown) => void;
  reject: (error: Error) => void;
}

class Workers {
  readonly children: ChildProcess[] = [];
  readonly #waiting = new Map<ChildProcess, Waiting>();

  constructor(options: Omit<WorkerOptions, 'worker' | 'workers'>) {
    for (let worker = 0; worker < workerCount; worker++) {
      const child = fork(path.join(import.meta.dirname, 'fleet-agents.ts'), [JSON.stringify({ ...options, worker, workers: workerCount })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      child.on('message', (message: { type?: string }) => {
        const waiting = this.#waiting.get(child);
        if (waiting === undefined || waiting.answer !== message.type) return;
        this.#waiting.delete(child);
        waiting.resolve(message);
      });
      child.on('exit', (code) => this.#waiting.get(child)?.reject(new Error(`a simulator exited (code ${String(code)})`)));
      this.children.push(child);
    }
  }

  /** Sends `message` (if any) to every worker and resolves with each one's next answer of type `answer`. */
  ask<T>(message: object | undefined, answer: string): Promise<T[]> {
    return Promise.all(
      this.children.map(
        (child) =>
          new Promise<T>((resolve, reject) => {
            this.#waiting.set(child, { answer, resolve: (reply) => resolve(reply as T), reject });
            if (message !== undefined) child.send(message);
          }),
      ),
    );
  }

  /**
   * Resolves once every agent has been answered twice (enrolled, session started, policy received and
   * reported) and nothing is queued behind a slow answer, then one more interval passes: the window that
   * follows sees the steady load only. Returns how long that took.
   */
  async settle(agents: number): Promise<number> {
    const started = performance.now();
    const deadline = started + 15 * 60_000;
    for (;;) {
      const status = await this.ask<StatusReport>({ type: 'status' }, 'status');
      const warm = status.reduce((sum, s) => sum + s.warm, 0);
      const queued = status.reduce((sum, s) => sum + s.pending, 0);
      if (warm >= agents && queued === 0) break;
      if (performance.now() > deadline) throw new Error(`the fleet did not settle: ${String(warm)} of ${String(agents)} agents answered twice, ${String(queued)} check-ins queued`);
      await sleep(1000);
    }
    await sleep(intervalMs);
    return (performance.now() - started) / 1000;
  }

  async stop(): Promise<void> {
    const running = this.children.filter((child) => child.exitCode === null);
    await Promise.all(
      running.map(
        (child) =>
          new Promise((resolve) => {
            child.once('exit', resolve);
            child.send({ type: 'stop' });
          }),
      ),
    );
  }
}

const round = (n: number, digits = 1): number => Math.round(n * 10 ** digits) / 10 ** digits;

async function measureStep(agents: number, serve: ChildProcess, workers: Workers, pgClient: pg.Client): Promise<Record<string, unknown>> {
  const servePid = serve.pid!;
  const simPids = workers.children.map((c) => c.pid!);
  await workers.ask({ type: 'window-start' }, 'window-started');
  const started = performance.now();
  const cpu0 = cpuSeconds(servePid);
  const sim0 = simPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const pg0 = await pgCounters(pgClient);
  const rss: number[] = [];
  while (performance.now() - started < seconds * 1000) {
    rss.push(rssMb(servePid));
    await sleep(Math.max(0, Math.min(1000, seconds * 1000 - (performance.now() - started))));
  }
  const reports = await workers.ask<WindowReport>({ type: 'window-stop' }, 'window');
  const elapsed = (performance.now() - started) / 1000;
  const cpu1 = cpuSeconds(servePid);
  const sim1 = simPids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
  const pg1 = await pgCounters(pgClient);
  rss.push(rssMb(servePid));
  const latencies = reports.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
  const failed: Record<string, number> = {};
  for (const r of reports) for (const [kind, n] of Object.entries(r.failed)) failed[kind] = (failed[kind] ?? 0) + n;
  const ok = reports.reduce((sum, r) => sum + r.ok, 0);
  const pgSeconds = (pg1.at - pg0.at) / 1000;
  const wal = await pgClient.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($1, $2) AS bytes', [pg1.walLsn, pg0.walLsn]);
  return {
    agents,
    seconds: round(elapsed),
    checkins: ok,
    checkinsPerSecond: round(ok / elapsed),
    expectedPerSecond: round(agents / (intervalMs / 1000)),
    latencyMs: {
      p50: round(percentile(latencies, 0.5), 2),
      p95: round(percentile(latencies, 0.95), 2),
      p99: round(percentile(latencies, 0.99), 2),
      max: round(latencies.at(-1) ?? 0, 2),
      mean: round(latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), 2),
    },
    errors: { total: Object.values(failed).reduce((a, b) => a + b, 0), byKind: failed },
    late: reports.reduce((sum, r) => sum + r.late, 0),
    controlPlane: { cpuSecondsPerSecond: round((cpu1 - cpu0) / elapsed, 3), rssMbMean: Math.round(rss.reduce((a, b) => a + b, 0) / rss.length), rssMbMax: Math.max(...rss) },
    postgres: {
      database: { commitsPerSecond: round((pg1.commits - pg0.commits) / pgSeconds), rowWritesPerSecond: round((pg1.rowWrites - pg0.rowWrites) / pgSeconds) },
      benchSchema: { rowWritesPerSecond: round((pg1.schemaRowWrites - pg0.schemaRowWrites) / pgSeconds) },
      walKBPerSecond: round(Number(wal.rows[0]!.bytes) / 1024 / pgSeconds),
    },
    simulators: {
      processes: simPids.length,
      cpuSecondsPerSecond: round((sim1 - sim0) / elapsed, 3),
      eventLoopDelayP99Ms: round(Math.max(...reports.map((r) => r.loopDelayP99Ms)), 2),
      eventLoopDelayMaxMs: round(Math.max(...reports.map((r) => r.loopDelayMaxMs)), 2),
    },
    loadavg: machineLoad(),
  };
}

async function main(): Promise<void> {
  const { child: serve, baseUrl, output } = await startServe({
    stack,
    stateSchema,
    dataSchema,
    topicPrefix,
    adminKey,
    nodeArgs: flags.profile ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(flags.profile)] : [],
  });
  const pgClient = new pg.Client({ connectionString: stack.pgUrl });
  // A lost connection (PostgreSQL restarted under the bench) fails the step that reads it, not the process.
  pgClient.on('error', (error) => process.stderr.write(`fleet bench: PostgreSQL connection lost: ${error.message}\n`));
  await pgClient.connect();
  let workers: Workers | undefined;
  const out: Record<string, unknown> = {
    bench: 'fleet',
    startedAt: new Date().toISOString(),
    cpus: os.cpus().length,
    node: process.version,
    settings: { steps, seconds, intervalSeconds: intervalMs / 1000, waitSeconds: 0, simulatorProcesses: workerCount, connectionsPerSimulator: Number(flags.connections) },
  };
  try {
    const deadline = Date.now() + 90_000;
    while ((await api(baseUrl, 'GET', '/healthz').catch(() => ({ status: 0 }))).status !== 200) {
      if (serve.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not come up:\n${output()}`);
      await sleep(300);
    }
    out.policy = flags['no-policy'] ? 'none (--no-policy)' : await publishPolicy(baseUrl);
    // Several provisioning batches: the enrolls of one token count its uses one after another.
    const tokens: string[] = [];
    for (let batch = 0; batch < ENROLL_TOKENS; batch++) {
      const maxUses = Math.ceil(Math.max(...steps) / ENROLL_TOKENS);
      const token = await api(baseUrl, 'POST', '/api/v1/enrollment-tokens', { name: `bench batch ${String(batch)}`, maxUses, expiresInSeconds: 6 * 3600, labels: { bench: id } });
      if (token.status !== 201) throw new Error(`enrollment token: HTTP ${String(token.status)} ${JSON.stringify(token.json)}`);
      tokens.push((token.json as { token: string }).token);
    }
    workers = new Workers({ url: baseUrl, tokens, intervalMs, epochMs: Date.now(), connections: Number(flags.connections), enrollConcurrency: Math.ceil(50 / workerCount) });
    await workers.ask(undefined, 'ready');
    const enrollment: unknown[] = [];
    const results: Array<Record<string, unknown>> = [];
    let previous = 0;
    for (const agents of steps) {
      const enrollStarted = performance.now();
      const added = await workers.ask<AddedReport>({ type: 'add', upTo: agents }, 'added');
      const enrollSeconds = (performance.now() - enrollStarted) / 1000;
      const failed = added.reduce((sum, a) => sum + a.failed, 0);
      enrollment.push({ upTo: agents, enrolled: agents - previous - failed, seconds: round(enrollSeconds), perSecond: round((agents - previous - failed) / enrollSeconds), failed, errors: added.flatMap((a) => a.errors).slice(0, 5) });
      if (failed > 0) throw new Error(`${String(failed)} enrollments failed: ${JSON.stringify(added.flatMap((a) => a.errors).slice(0, 3))}`);
      previous = agents;
      const rampSeconds = await workers.settle(agents);
      results.push({ ...(await measureStep(agents, serve, workers, pgClient)), rampSeconds: round(rampSeconds) });
      process.stderr.write(`fleet bench: ${JSON.stringify(results.at(-1))}\n`);
    }
    out.enrollment = enrollment;
    out.steps = results;
    const atTarget = results.find((r) => r.agents === TARGET.agents) as { latencyMs: { p99: number }; errors: { total: number } } | undefined;
    out.target = {
      ...TARGET,
      measuredP99Ms: atTarget?.latencyMs.p99 ?? null,
      pass: atTarget === undefined ? null : atTarget.latencyMs.p99 <= TARGET.p99Ms && atTarget.errors.total === 0,
    };
  } finally {
    await workers?.stop();
    await stopProcess(serve);
    await pgClient.end().catch(() => undefined);
    // A connection of its own: the measuring one may be the one that was lost.
    const cleanup = new pg.Client({ connectionString: stack.pgUrl });
    await cleanup.connect();
    await cleanup.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
    await cleanup.query(`DROP SCHEMA IF EXISTS ${dataSchema} CASCADE`);
    await cleanup.end();
    const topics = (await listTopics(stack.kafkaBrokers).catch(() => [])).filter((t) => t.startsWith(topicPrefix));
    if (topics.length > 0) await deleteTopics(stack.kafkaBrokers, topics).catch(() => undefined);
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

await main();
