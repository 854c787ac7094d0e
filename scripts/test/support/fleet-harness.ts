/**
 * A whole fleet on this machine for the end-to-end tests, every piece a real process: one or two control-plane
 * `serve` processes (two sit behind a round-robin TCP proxy, one address, as behind a load balancer), a
 * `consume` process, and fleet-managed agents that enrolled with `sluice-agent enroll`. Everything it makes is
 * its own (state and data schemas, topic prefix, consumer group, search indices, temp folder) and is removed
 * after the file by the integration project's cleanup; `close()` ends the processes.
 *
 * The control plane runs with short fleet timings (check-in flush, history spacing, rollout tick, ledger
 * settle) so a rollout with a few seconds of soak finishes in seconds, not minutes.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadStackEnv } from '@sluice/shared/node/stack-env';
import { freePort, ProcessGroup, stopProcess } from '@sluice/shared/node/testing/processes';
import { ownSchemas, ownSearchIndices, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';
import { FleetAgent, kill9 } from './fleet-agent.ts';
import { FleetApi, type AgentView, type RolloutView } from './fleet-api.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from './round-robin-proxy.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = 'control-plane/bin/sluice-control-plane.js';

export interface FleetHarnessOptions {
  /** Short, lower-case: part of schema, topic and index names. */
  name: string;
  /** `serve` processes; with two, agents and `api` go through the round-robin proxy. */
  serves?: 1 | 2;
  consume?: boolean;
  /** More control-plane environment (wins over the harness's). */
  env?: Record<string, string>;
  checkinWaitSeconds?: number;
  applyTimeoutSeconds?: number;
}

interface ServeProcess {
  port: number;
  child: ChildProcess | undefined;
}

export class FleetHarness {
  readonly id = randomBytes(3).toString('hex');
  readonly stack = loadStackEnv();
  readonly root: string;
  readonly processes = new ProcessGroup({ keepChars: 6000 });
  readonly pool: pg.Pool;
  readonly stateSchema: string;
  readonly dataSchema: string;
  readonly topicPrefix: string;
  readonly adminKey = `slk_${randomBytes(24).toString('base64url')}`;
  readonly metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
  /** The fleet's one address: the proxy with two `serve` processes, else the only one. */
  readonly api: FleetApi;
  readonly agents: FleetAgent[] = [];
  readonly #options: FleetHarnessOptions;
  readonly #serves: ServeProcess[] = [];
  #proxy: RoundRobinProxy | undefined;

  private constructor(options: FleetHarnessOptions) {
    this.#options = options;
    const tag = `${options.name}_${this.id}`;
    this.stateSchema = `fleet_state_${tag}`;
    this.dataSchema = `fleet_data_${tag}`;
    ownSchemas(this.stateSchema, this.dataSchema);
    this.topicPrefix = testTopicPrefix(`fleet${options.name}${this.id}`);
    this.root = mkdtempSync(join(tmpdir(), `sluice-fleet-${options.name}-`));
    this.pool = new pg.Pool({ connectionString: this.stack.pgUrl, max: 2 });
    this.api = new FleetApi(() => this.url, this.adminKey);
  }

  static async start(options: FleetHarnessOptions): Promise<FleetHarness> {
    const fleet = new FleetHarness(options);
    const count = options.serves ?? 1;
    for (let i = 0; i < count; i++) fleet.#serves.push({ port: await freePort(), child: undefined });
    // One at a time: both migrate the same fresh state schema on start.
    for (let i = 0; i < count; i++) await fleet.startServe(i);
    if (count > 1) fleet.#proxy = await startRoundRobinProxy(fleet.#serves.map((s) => ({ host: '127.0.0.1', port: s.port })));
    if (options.consume ?? false) fleet.startConsume();
    return fleet;
  }

  get url(): string {
    return this.#proxy?.url ?? this.serveUrl(0);
  }

  serveUrl(index: number): string {
    return `http://127.0.0.1:${this.#serve(index).port}`;
  }

  /** The API of one `serve` process, bypassing the proxy. */
  apiAt(index: number): FleetApi {
    return new FleetApi(() => this.serveUrl(index), this.adminKey);
  }

  proxyConnections(): Map<string, number> {
    return this.#proxy?.connections() ?? new Map<string, number>();
  }

  env(): Record<string, string> {
    return {
      SLUICE_STATE_SCHEMA: this.stateSchema,
      SLUICE_DATA_SCHEMA: this.dataSchema,
      SLUICE_TOPIC_PREFIX: this.topicPrefix,
      SLUICE_DLQ_TOPIC: `${this.topicPrefix}dlq`,
      SLUICE_CONSUMER_GROUP: `fleet-${this.#options.name}-${this.id}`,
      SLUICE_S3_BUCKET: `fleet-${this.#options.name}-${this.id}`.replaceAll('_', '-'),
      SLUICE_TOPIC_REFRESH_MS: '1000',
      SLUICE_BATCH_MAX_WAIT_MS: '100',
      SLUICE_CONSUMER_METRICS_PORT: '0',
      SLUICE_ADMIN_KEY: this.adminKey,
      SLUICE_METRICS_KEY: this.metricsKey,
      SLUICE_LOG_LEVEL: process.env.SLUICE_E2E_LOG_LEVEL ?? 'warn',
      SLUICE_CHECKIN_FLUSH_MS: '200',
      SLUICE_CHECKIN_INTERVAL_SECONDS: '1',
      SLUICE_CHECKIN_HISTORY_SECONDS: '1',
      SLUICE_ROLLOUT_TICK_MS: '500',
      SLUICE_LEDGER_SETTLE_SECONDS: '3',
      ...this.#options.env,
    };
  }

  /** Starts `serve` number `index` (again) on its port; resolves once it answers /healthz. */
  async startServe(index: number): Promise<void> {
    const serve = this.#serve(index);
    const name = `serve ${index}`;
    serve.child = this.processes.start(name, [CLI, 'serve'], { cwd: ROOT, env: { ...this.env(), SLUICE_HTTP_PORT: String(serve.port) } });
    const child = serve.child;
    await this.until(
      `control plane ${name}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
        const res = await fetch(`${this.serveUrl(index)}/healthz`, { headers: { authorization: `Bearer ${this.metricsKey}` }, signal: AbortSignal.timeout(2000) });
        return res.ok;
      },
      60_000,
    );
  }

  /** SIGTERM: the process shuts down cleanly. */
  async stopServe(index: number): Promise<void> {
    await stopProcess(this.#serve(index).child);
  }

  async killServe(index: number): Promise<void> {
    await kill9(this.#serve(index).child);
  }

  startConsume(): void {
    this.processes.start('consume', [CLI, 'consume'], { cwd: ROOT, env: this.env() });
  }

  /** A dataset loaded into PostgreSQL (and, when asked, into its own search index). */
  async createDataset(name: string, options: { search?: boolean } = {}): Promise<void> {
    const sinks: Record<string, unknown> = { postgres: { enabled: true } };
    if (options.search ?? false) {
      ownSearchIndices(`sluice-${name}-*`);
      sinks.search = { enabled: true, index: `sluice-${name}` };
    }
    await this.api.createDataset(name, sinks);
  }

  /** Enrolls a new agent through the fleet's address with `token` and starts it. */
  async addAgent(name: string, token: string, options: { allowedRoots?: string[]; env?: Record<string, string> } = {}): Promise<FleetAgent> {
    const agent = new FleetAgent({
      root: this.root,
      name,
      kafkaBrokers: this.stack.kafkaBrokers,
      topicPrefix: this.topicPrefix,
      allowedRoots: options.allowedRoots ?? [this.root],
      checkinWaitSeconds: this.#options.checkinWaitSeconds ?? 1,
      applyTimeoutSeconds: this.#options.applyTimeoutSeconds ?? 20,
      processes: this.processes,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    await agent.enroll(this.url, token);
    await agent.start();
    this.agents.push(agent);
    return agent;
  }

  /** A wait that, timed out, shows what every process printed last. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<NonNullable<T>> {
    return waitFor(probe, { timeoutMs, intervalMs, what, detail: () => this.processes.describe(2500) });
  }

  /** Polls GET /api/v1/agents until `check` holds for the listed agents; returns them. */
  async untilAgents(what: string, check: (agents: Map<string, AgentView>) => boolean, timeoutMs = 60_000): Promise<Map<string, AgentView>> {
    let last = new Map<string, AgentView>();
    try {
      return await waitFor(
        async () => {
          last = new Map((await this.api.agents()).map((a) => [a.id, a]));
          return check(last) ? last : undefined;
        },
        { timeoutMs, intervalMs: 200, what },
      );
    } catch (error) {
      const seen = [...last.values()].map((a) => `${a.id}: ${a.applyState ?? '-'} ${a.reportedHash?.slice(0, 8) ?? '-'} ${a.applyReason ?? ''}`).join('\n');
      throw new Error(`${(error as Error).message}\nagents:\n${seen}\n${this.processes.describe(2000)}`, { cause: error });
    }
  }

  /** Waits until every agent in `ids` reports `applied` with `hash`; returns when each was first seen so. */
  async untilApplied(ids: string[], hash: string, timeoutMs = 60_000): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    await this.untilAgents(
      `${ids.join(', ')} applied ${hash.slice(0, 8)}`,
      (agents) => {
        for (const id of ids) {
          const a = agents.get(id);
          if (!seen.has(id) && a?.applyState === 'applied' && a.reportedHash === hash) seen.set(id, Date.now());
        }
        return seen.size === ids.length;
      },
      timeoutMs,
    );
    return seen;
  }

  /** Polls a rollout until it is in one of `states`; a timeout shows its last view (gate report included). */
  async untilRollout(rollout: RolloutView, states: RolloutView['state'][], timeoutMs = 60_000): Promise<RolloutView> {
    let last: RolloutView | undefined;
    try {
      return await waitFor(
        async () => {
          last = await this.api.rollout(rollout.id);
          return states.includes(last.state) ? last : undefined;
        },
        { timeoutMs, intervalMs: 250, what: `rollout ${rollout.id} ${states.join(' or ')}` },
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nlast seen: ${JSON.stringify(last, null, 1)}\n${this.processes.describe(2000)}`, { cause: error });
    }
  }

  /**
   * Follows a rollout in the background: when each phase of each wave began (`<wave>:<phase>` -> the control
   * plane's phaseStartedAt, ms), as the rollout itself records it. `stop()` ends it and returns what it saw.
   */
  watchRollout(id: RolloutView['id']): { phases: Map<string, number>; stop: () => Promise<Map<string, number>> } {
    const phases = new Map<string, number>();
    let running = true;
    const loop = (async () => {
      while (running) {
        const view = await this.api.rollout(id).catch(() => undefined);
        if (view && view.wave >= 0 && view.state === 'running') {
          const key = `${view.wave}:${view.phase}`;
          if (!phases.has(key)) phases.set(key, Date.parse(view.phaseStartedAt));
        }
        await sleep(150);
      }
    })();
    return {
      phases,
      stop: async () => {
        running = false;
        await loop;
        return phases;
      },
    };
  }

  async close(): Promise<void> {
    await this.processes.stopAll();
    await this.#proxy?.close();
    await this.pool.end();
    rmSync(this.root, { recursive: true, force: true });
  }

  #serve(index: number): ServeProcess {
    const serve = this.#serves[index];
    if (!serve) throw new Error(`no serve process ${index}`);
    return serve;
  }
}

/**
 * A log file the test keeps appending to (one numbered line every `intervalMs`), so the agents tailing it ship
 * continuously and a rollout gate sees each agent's own rate.
 */
export class LineFeed {
  readonly file: string;
  #timer: NodeJS.Timeout | undefined;
  #written = 0;

  constructor(file: string) {
    this.file = file;
    appendFileSync(file, '');
  }

  get written(): number {
    return this.#written;
  }

  /** Appends `count` lines at once. */
  write(count: number): void {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) lines.push(`line ${++this.#written} at ${new Date().toISOString()}`);
    appendFileSync(this.file, `${lines.join('\n')}\n`);
  }

  start(intervalMs = 100, perTick = 5): void {
    this.stop();
    this.#timer = setInterval(() => this.write(perTick), intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
