/**
 * Simulated agents for bench/fleet.ts: light HTTP clients (one undici keep-alive pool per process) that speak
 * the real check-in protocol, each with its own enrolled credential, its own session header and a health
 * snapshot shaped like a real agent's (3-5 sources, outbox, breakers, per-dataset counters that keep growing,
 * ledger rows for the minutes it shipped in). Run as a child process (`fork`), driven over IPC:
 *
 *   parent → {type:'add', upTo}      enroll this process's share of agents [current, upTo) and start them
 *   parent → {type:'window-start'}   start counting latencies; {type:'window-stop'} answers {type:'window', …}
 *   parent → {type:'stop'}           close the pools and exit
 *
 * Agent i checks in every `intervalMs` at phase frac(i·φ)·interval from a shared epoch, so any number of
 * agents is spread evenly over the interval across all processes (a low-discrepancy sequence), and a check-in
 * still in flight when the next is due is sent right after it (counted as `late`).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import type { CheckinRequest, CheckinResponse, EnrollResponse } from '@sluice/shared/fleet/checkin';
import { INSTANCE_HEADER } from '@sluice/shared/fleet/checkin';

const AGENT_VERSION = (JSON.parse(readFileSync(new URL('../agent/package.json', import.meta.url), 'utf8')) as { version: string }).version;
const GOLDEN = 0.618_033_988_749_895;
/** Enrollment is rate limited per client address; the simulated fleet enrolls from this many loopback addresses. */
const ENROLL_ADDRESSES = 200;

export interface SimulatedSource {
  id: string;
  type: 'file' | 'http-poll' | 'drop';
  dataset: string;
  /** Records per second this source reads. */
  rate: number;
}

const minuteOf = (ms: number): string => new Date(Math.floor(ms / 60_000) * 60_000).toISOString();

/** One agent's state between check-ins: what it runs, its counters, its ledger rows and how far they are acknowledged. */
export class SimulatedAgent {
  readonly index: number;
  readonly agentId: string;
  readonly #credential: string;
  readonly #instance: string;
  readonly sources: SimulatedSource[];
  readonly #startedAt: string;
  #lastAt: number;
  readonly #counters = new Map<string, { read: number; committed: number; shipped: number }>();
  /** Per `dataset\0minute`: cumulative shipped, and the change number of its last update (as the agent's outbox keeps them). */
  readonly #ledger = new Map<string, { shipped: number; changed: number }>();
  #change = 0;
  /** The control plane has written the rows up to this change number (`ledgerAckedThrough`). */
  #acked = 0;
  #hash: string | null = null;
  /** Check-ins answered 200. */
  answers = 0;
  #revision: { policy: string; number: number } | null = null;
  #appliedAt: string;

  constructor(index: number, enrolled: EnrollResponse, now: number) {
    this.index = index;
    this.agentId = enrolled.agentId;
    this.#credential = enrolled.credential;
    // The first process after `enroll` (which used counter 1) starts session 2, as a real agent does.
    this.#instance = `2.${randomBytes(12).toString('base64url')}`;
    const kinds = ['file', 'http-poll', 'file', 'drop', 'file'] as const;
    this.sources = Array.from({ length: 3 + (index % 3) }, (_, s) => ({
      id: `src-${String(s)}`,
      type: kinds[s] ?? 'file',
      dataset: `bench_ds_${String(s % 3)}`,
      rate: 5 + ((index * 7 + s * 13) % 46),
    }));
    this.#startedAt = new Date(now).toISOString();
    this.#appliedAt = this.#startedAt;
    this.#lastAt = now;
    for (const source of this.sources) this.#counters.set(source.dataset, { read: 0, committed: 0, shipped: 0 });
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.#credential}`, [INSTANCE_HEADER]: this.#instance, 'content-type': 'application/json' };
  }

  /** The check-in body at `now`: counters advanced by each source's rate since the previous one. */
  checkin(now: number): CheckinRequest {
    const seconds = Math.max(0, (now - this.#lastAt) / 1000);
    this.#lastAt = now;
    const minute = minuteOf(now);
    for (const source of this.sources) {
      const counter = this.#counters.get(source.dataset)!;
      const records = Math.round(source.rate * seconds);
      counter.read += records;
      counter.committed += records;
      counter.shipped += records;
      const key = `${source.dataset}\u0000${minute}`;
      if (records > 0) this.#ledger.set(key, { shipped: (this.#ledger.get(key)?.shipped ?? 0) + records, changed: ++this.#change });
    }
    // The agent prunes its minute counts after 2 h; an hour is plenty for a bench.
    for (const key of this.#ledger.keys()) if (Date.parse(key.split('\u0000')[1]!) < now - 3_600_000) this.#ledger.delete(key);
    const at = new Date(now).toISOString();
    const outboxRows = (this.index * 31 + Math.floor(now / 1000)) % 200;
    return {
      version: AGENT_VERSION,
      waitSeconds: 0,
      config: { hash: this.#hash, revision: this.#revision },
      apply: { state: 'applied', hash: this.#hash, at: this.#appliedAt },
      health: {
        at,
        startedAt: this.#startedAt,
        sources: this.sources.map((s, i) => ({
          id: s.id,
          type: s.type,
          dataset: s.dataset,
          state: 'running',
          position: s.type === 'file' ? `/var/log/app/app-${String(i)}.log@${String(this.#counters.get(s.dataset)!.read * 120)}` : `cursor-${String(this.#counters.get(s.dataset)!.read)}`,
          ...(this.index % 50 === 0 && i === 0 ? { lastError: { at: this.#startedAt, message: 'ECONNREFUSED 10.0.0.7:8080 (retrying)' } } : {}),
        })),
        outbox: { rows: outboxRows, bytes: outboxRows * 640, oldestAgeMs: outboxRows === 0 ? null : 150 + (outboxRows % 40) * 25 },
        breakers: this.sources.filter((s) => s.type === 'http-poll').map((s) => ({ source: s.id, endpoint: `http://10.0.0.${String(this.index % 250)}:8080/metrics`, state: 'closed' as const })),
        datasets: [...this.#counters].map(([dataset, c]) => ({ dataset, ...c })),
      },
      ledger: [...this.#ledger].flatMap(([key, row]) => {
        if (row.changed <= this.#acked) return [];
        const [dataset = '', minute = ''] = key.split('\u0000');
        return [{ dataset, minute, shipped: row.shipped }];
      }),
      ledgerThrough: this.#change,
      allowedRoots: ['/var/log/app', '/srv/drop'],
    };
  }

  /** An answered check-in: the ledger rows it says are written are acknowledged; a new desired config is adopted as applied. */
  answered(answer: CheckinResponse, now: number): void {
    this.answers += 1;
    this.#acked = Math.max(this.#acked, answer.ledgerAckedThrough ?? 0);
    if (answer.desired !== null && answer.config !== undefined) {
      this.#hash = answer.desired.hash;
      this.#revision = { policy: answer.desired.revision.policy, number: answer.desired.revision.number };
      this.#appliedAt = new Date(now).toISOString();
    } else if (answer.desired === null && this.#hash !== null) {
      this.#hash = null;
      this.#revision = null;
    }
  }
}

export interface WorkerOptions {
  url: string;
  /** Agent i enrolls with tokens[i % length]: enrolls with one token run one after another (its use count). */
  tokens: string[];
  worker: number;
  workers: number;
  intervalMs: number;
  /** Shared by all workers (Date.now() of the parent): phases are relative to it. */
  epochMs: number;
  connections: number;
  enrollConcurrency: number;
}

export interface AddedReport {
  type: 'added';
  /** Agents this process runs now. */
  agents: number;
  failed: number;
  /** The first few enrollment failures. */
  errors: string[];
}

export interface StatusReport {
  type: 'status';
  agents: number;
  /** Agents answered at least twice: session started, desired config received and reported. */
  warm: number;
  /** Check-ins due while the previous one was unanswered. */
  pending: number;
}

export interface WindowReport {
  type: 'window';
  latenciesMs: number[];
  ok: number;
  failed: Record<string, number>;
  late: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

async function postJson(pool: Pool, path: string, headers: Record<string, string>, body: unknown): Promise<{ status: number; json: unknown; retryAfter: string | undefined }> {
  const res = await pool.request({ path, method: 'POST', headers, body: JSON.stringify(body), headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  const retryAfter = res.headers['retry-after'];
  return { status: res.statusCode, json: text.length > 0 ? JSON.parse(text) : undefined, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
}

class Simulator {
  readonly #options: WorkerOptions;
  readonly #pool: Pool;
  readonly #enrollPools = new Map<string, Pool>();
  /** Agents by phase bucket (10 ms each). */
  readonly #buckets: SimulatedAgent[][];
  readonly #inFlight = new Set<SimulatedAgent>();
  readonly #pending = new Set<SimulatedAgent>();
  #enrolledUpTo = 0;
  #agents = 0;
  #window: Omit<WindowReport, 'type' | 'loopDelayP99Ms' | 'loopDelayMaxMs'> | undefined;
  readonly #loop = monitorEventLoopDelay({ resolution: 5 });
  #lastBucket = -1;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WorkerOptions) {
    this.#options = options;
    this.#pool = new Pool(options.url, { connections: options.connections, keepAliveTimeout: 60_000, pipelining: 1 });
    this.#buckets = Array.from({ length: Math.ceil(options.intervalMs / 10) }, () => []);
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), 5);
  }

  async add(upTo: number): Promise<AddedReport> {
    const mine: number[] = [];
    for (let i = this.#enrolledUpTo; i < upTo; i++) if (i % this.#options.workers === this.#options.worker) mine.push(i);
    this.#enrolledUpTo = upTo;
    const errors: string[] = [];
    let failed = 0;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < mine.length) {
        const index = mine[next++]!;
        try {
          this.#place(new SimulatedAgent(index, await this.#enroll(index), Date.now()));
        } catch (error) {
          failed += 1;
          if (errors.length < 5) errors.push((error as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#options.enrollConcurrency) }, lane));
    for (const pool of this.#enrollPools.values()) await pool.close();
    this.#enrollPools.clear();
    return { type: 'added', agents: this.#agents, failed, errors };
  }

  async #enroll(index: number): Promise<EnrollResponse> {
    const address = `127.0.1.${String(1 + (index % ENROLL_ADDRESSES))}`;
    let pool = this.#enrollPools.get(address);
    if (!pool) {
      pool = new Pool(this.#options.url, { connections: 2, localAddress: address });
      this.#enrollPools.set(address, pool);
    }
    const body = { token: this.#options.tokens[index % this.#options.tokens.length]!, name: `bench-${String(index)}`, hostname: `bench-host-${String(index)}`, version: AGENT_VERSION, instance: { counter: 1, nonce: randomBytes(12).toString('base64url') } };
    for (let attempt = 1; ; attempt++) {
      const res = await postJson(pool, '/api/v1/enroll', { 'content-type': 'application/json' }, body);
      if (res.status === 201) return res.json as EnrollResponse;
      if ((res.status === 429 || res.status === 503) && attempt < 5) {
        await new Promise((resolve) => setTimeout(resolve, 1000 * Number(res.retryAfter ?? 1)));
        continue;
      }
      throw new Error(`enroll of agent ${String(index)}: HTTP ${String(res.status)} ${JSON.stringify(res.json)}`);
    }
  }

  status(): StatusReport {
    let warm = 0;
    for (const bucket of this.#buckets) for (const agent of bucket) if (agent.answers >= 2) warm += 1;
    return { type: 'status', agents: this.#agents, warm, pending: this.#pending.size };
  }

  #place(agent: SimulatedAgent): void {
    const phase = ((agent.index * GOLDEN) % 1) * this.#options.intervalMs;
    this.#buckets[Math.min(this.#buckets.length - 1, Math.floor(phase / 10))]!.push(agent);
    this.#agents += 1;
  }

  #tick(): void {
    const now = Date.now();
    const bucket = Math.floor((now - this.#options.epochMs) / 10);
    if (this.#lastBucket < 0) this.#lastBucket = bucket - 1;
    // Timer drift: fire every bucket passed since the last tick, in order.
    for (let b = this.#lastBucket + 1; b <= bucket; b++) for (const agent of this.#buckets[b % this.#buckets.length]!) this.#due(agent);
    this.#lastBucket = bucket;
  }

  #due(agent: SimulatedAgent): void {
    if (this.#inFlight.has(agent)) {
      this.#pending.add(agent);
      if (this.#window) this.#window.late += 1;
      return;
    }
    void this.#checkin(agent);
  }

  async #checkin(agent: SimulatedAgent): Promise<void> {
    this.#inFlight.add(agent);
    const window = this.#window;
    const body = agent.checkin(Date.now());
    const started = performance.now();
    let outcome: string;
    try {
      const res = await postJson(this.#pool, '/api/v1/agent/checkin', agent.headers, body);
      outcome = res.status === 200 ? 'ok' : `HTTP ${String(res.status)}`;
      if (res.status === 200) agent.answered(res.json as CheckinResponse, Date.now());
    } catch (error) {
      outcome = (error as { code?: string }).code ?? (error as Error).name;
    }
    const ms = performance.now() - started;
    // Only check-ins sent and answered inside the window count.
    if (window !== undefined && window === this.#window) {
      if (outcome === 'ok') {
        window.ok += 1;
        window.latenciesMs.push(ms);
      } else window.failed[outcome] = (window.failed[outcome] ?? 0) + 1;
    }
    this.#inFlight.delete(agent);
    if (this.#pending.delete(agent)) void this.#checkin(agent);
  }

  windowStart(): void {
    this.#window = { latenciesMs: [], ok: 0, failed: {}, late: 0 };
    this.#loop.reset();
    this.#loop.enable();
  }

  windowStop(): WindowReport {
    const window = this.#window ?? { latenciesMs: [], ok: 0, failed: {}, late: 0 };
    this.#window = undefined;
    this.#loop.disable();
    return { type: 'window', ...window, loopDelayP99Ms: this.#loop.percentile(99) / 1e6, loopDelayMaxMs: this.#loop.max / 1e6 };
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pool.close();
  }
}

type ParentMessage = { type: 'add'; upTo: number } | { type: 'status' } | { type: 'window-start' } | { type: 'window-stop' } | { type: 'stop' };

async function runWorker(options: WorkerOptions): Promise<void> {
  const simulator = new Simulator(options);
  simulator.start();
  const send = (message: unknown): void => void process.send?.(message);
  process.on('message', (message: ParentMessage) => {
    switch (message.type) {
      case 'add':
        simulator.add(message.upTo).then(send, (error: unknown) => send({ type: 'added', agents: -1, failed: 1, errors: [(error as Error).message] }));
        break;
      case 'status':
        send(simulator.status());
        break;
      case 'window-start':
        simulator.windowStart();
        send({ type: 'window-started' });
        break;
      case 'window-stop':
        send(simulator.windowStop());
        break;
      case 'stop':
        void simulator.stop().finally(() => process.exit(0));
        break;
    }
  });
  // The bench died without saying stop: a simulated fleet with nobody measuring it is only load.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runWorker(JSON.parse(process.argv[2] ?? '{}') as WorkerOptions);
