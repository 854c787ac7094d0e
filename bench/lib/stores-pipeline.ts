/**
 * The whole path as `npm start` runs it, for benchmarks and end-to-end tests (scripts/test): the control plane and a
 * consumer as real processes, one dataset made through the API, and the agent as a real process (which a
 * test may kill and start again). Everything is the caller's own: topic prefix, consumer group, state and
 * data schemas, bucket and search index names derived from one random id. Timed-out waits show what the
 * processes printed last.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadStackEnv, type StackEnv } from '@sluice/shared/node/stack-env';
import { freePort, ProcessGroup } from '@sluice/shared/node/testing/processes';
import { ownSchemas, ownSearchIndices, testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
import { waitFor } from '@sluice/shared/node/testing/wait-for';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface StoresPipelineOptions {
  /** A short lowercase name; the dataset is `<name>_<id>`. */
  name: string;
  /** The dataset's sinks (which may name the dataset) and JSON Schema, as POST /api/v1/datasets takes them. */
  sinks: Record<string, unknown> | ((pipeline: StoresPipeline) => Record<string, unknown>);
  schema: Record<string, unknown>;
  /** The agent config's `sources` items (YAML lines, indented two spaces), for this pipeline's dataset and folder. */
  sources: (pipeline: StoresPipeline) => string[];
  /** More lines for the agent config (e.g. `allowedRoots`). */
  agentYaml?: (pipeline: StoresPipeline) => string[];
}

export class StoresPipeline {
  readonly stack: StackEnv = loadStackEnv();
  readonly id = randomBytes(4).toString('hex');
  readonly dataset: string;
  readonly agentId: string;
  readonly topicPrefix: string;
  readonly stateSchema: string;
  readonly dataSchema: string;
  readonly bucket: string;
  readonly processes = new ProcessGroup();
  readonly pool: pg.Pool;
  readonly adminKey = `slk_${randomBytes(24).toString('base64url')}`;
  /** A viewer key for the control plane's health and metrics; the agent's http.token for its own. */
  readonly metricsKey = `slk_${randomBytes(24).toString('base64url')}`;
  readonly agentToken = `sat_${randomBytes(24).toString('base64url')}`;
  dir = '';
  cpUrl = '';
  agentPort = 0;
  agent: ChildProcess | undefined;
  readonly #options: StoresPipelineOptions;

  constructor(options: StoresPipelineOptions) {
    this.#options = options;
    this.dataset = `${options.name}_${this.id}`;
    this.agentId = `e2e-${options.name.replace(/_/g, '-')}-${this.id}`;
    this.topicPrefix = testTopicPrefix(`${options.name.replace(/_/g, '')}${this.id}`);
    this.stateSchema = `${options.name}_state_${this.id}`;
    this.dataSchema = `${options.name}_data_${this.id}`;
    this.bucket = `${options.name.replace(/_/g, '-')}-${this.id}`;
    ownSchemas(this.stateSchema, this.dataSchema);
    ownSearchIndices(`sluice-${this.dataset}-*`);
    this.pool = new pg.Pool({ connectionString: this.stack.pgUrl, max: 2 });
  }

  /** A wait that, timed out, shows what the processes printed last. */
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<NonNullable<T>> {
    return waitFor(probe, { timeoutMs, intervalMs: 500, what, detail: () => this.processes.describe() });
  }

  /** Control plane, dataset, consumer, agent config; then the agent (`startAgent`), unless told not to. */
  async start(options: { agent?: boolean } = {}): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), `sluice-${this.#options.name}-`));
    const cpPort = await freePort();
    this.agentPort = await freePort();
    this.cpUrl = `http://127.0.0.1:${cpPort}`;
    const cpEnv = {
      // The stack's addresses (the environment's where it sets them), also when a benchmark runs this.
      ...this.stack.raw,
      SLUICE_HTTP_PORT: String(cpPort),
      SLUICE_STATE_SCHEMA: this.stateSchema,
      SLUICE_DATA_SCHEMA: this.dataSchema,
      SLUICE_TOPIC_PREFIX: this.topicPrefix,
      SLUICE_DLQ_TOPIC: `${this.topicPrefix}dlq`,
      SLUICE_CONSUMER_GROUP: `e2e-${this.id}`,
      SLUICE_S3_BUCKET: this.bucket,
      SLUICE_TOPIC_REFRESH_MS: '1000',
      SLUICE_CONSUMER_METRICS_PORT: '0',
      SLUICE_ADMIN_KEY: this.adminKey,
      SLUICE_METRICS_KEY: this.metricsKey,
      SLUICE_LOG_LEVEL: 'warn',
    };
    this.processes.start('control plane', ['control-plane/bin/sluice-control-plane.js', 'serve'], { cwd: ROOT, env: cpEnv });
    await this.until('the control plane', async () => ((await fetch(`${this.cpUrl}/healthz`, { headers: { authorization: `Bearer ${this.metricsKey}` } })).ok ? true : undefined));
    const { sinks } = this.#options;
    const created = await fetch(`${this.cpUrl}/api/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: this.dataset, sinks: typeof sinks === 'function' ? sinks(this) : sinks, schema: this.#options.schema }),
    });
    if (created.status !== 201) throw new Error(`creating dataset ${this.dataset}: ${created.status} ${await created.text()}`);
    this.processes.start('consumer', ['control-plane/bin/sluice-control-plane.js', 'consume'], { cwd: ROOT, env: cpEnv });
    await writeFile(
      join(this.dir, 'agent.yaml'),
      [
        `agentId: ${this.agentId}`,
        `dataDir: ${join(this.dir, 'data')}`,
        'kafka:',
        `  brokers: [${JSON.stringify(this.stack.kafkaBrokers[0])}]`,
        `  topicPrefix: ${JSON.stringify(this.topicPrefix)}`,
        'http:',
        `  listen: 127.0.0.1:${this.agentPort}`,
        '  token: ${env:SLUICE_AGENT_TOKEN}',
        ...(this.#options.agentYaml?.(this) ?? []),
        'sources:',
        ...this.#options.sources(this),
        '',
      ].join('\n'),
    );
    if (options.agent !== false) await this.startAgent();
  }

  /** Starts the agent process and waits until it answers /healthz. */
  async startAgent(): Promise<ChildProcess> {
    this.agent = this.processes.start('agent', ['agent/bin/sluice-agent.js', 'run', '--config', join(this.dir, 'agent.yaml')], {
      cwd: ROOT,
      env: { SLUICE_LOG_LEVEL: 'warn', SLUICE_AGENT_TOKEN: this.agentToken },
    });
    const health = `http://127.0.0.1:${this.agentPort}/healthz`;
    await this.until('the agent', async () => ((await fetch(health, { headers: { authorization: `Bearer ${this.agentToken}` } })).ok ? true : undefined));
    return this.agent;
  }

  /** SIGKILL to the agent; resolves once it exited. */
  async killAgent(): Promise<void> {
    const child = this.agent;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** The agent's /status, or undefined while it does not answer. */
  async agentStatus(): Promise<{ sources: Array<{ state: string; details?: Record<string, unknown> }>; outbox?: { rows: number } } | undefined> {
    const res = await fetch(`http://127.0.0.1:${this.agentPort}/status`, { headers: { authorization: `Bearer ${this.agentToken}` }, signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    return res?.ok === true ? ((await res.json()) as never) : undefined;
  }

  /** The dataset's table, `ON CONFLICT DO NOTHING` on the record id. */
  get table(): string {
    return `${this.dataSchema}.${this.dataset}`;
  }

  async stop(): Promise<void> {
    await this.processes.stopAll();
    await this.pool.query(`DROP SCHEMA IF EXISTS ${this.stateSchema} CASCADE; DROP SCHEMA IF EXISTS ${this.dataSchema} CASCADE`);
    await this.pool.end();
    await fetch(`${this.stack.searchUrl}/sluice-${this.dataset}-*`, { method: 'DELETE' }).catch(() => undefined);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
