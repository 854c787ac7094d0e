/**
 * The running agent: outbox + shipper + HTTP server + the configured sources.
 *
 *   start() → running ─ reload(config) → running (changed sources restarted, others untouched; it answers
 *                                       which sources failed to start)
 *                     └ stop(drain) → stopped: sources stop after their last commit, the shipper ships what it
 *                                     can within drainTimeoutMs, then the producer and the outbox close.
 *
 * Nothing is lost across reload or stop: records are in the outbox before a source's position moves, and the
 * outbox is on disk.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { AgentConfig, SourceConfig } from '@sluice/shared/agent-config/index';
import { KafkaProducer } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import type { Clock } from '@sluice/shared/clock';
import { KAFKA_HEADERS } from '@sluice/shared/envelope';
import { AllowedRoots } from '../config/allowed-roots.ts';
import { redact } from '../config/redact.ts';
import { DatasetWatch } from '../control/dataset-check.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import { AgentHttpServer, type HttpRoutes } from '../http/server.ts';
import { Outbox } from '../outbox/outbox.ts';
import type { ShipItem } from '../shipper/ship-items.ts';
import { Shipper, type MessageSender, type SenderEvents } from '../shipper/shipper.ts';
import { createSource } from '../sources/registry.ts';
import type { Source, SourceState } from '../sources/source.ts';
import { AgentMetrics } from './metrics.ts';
import { createSourceContext, type RuntimeSourceContext } from './source-context.ts';

interface RunningSource {
  config: SourceConfig;
  fingerprint: string;
  source: Source | undefined;
  ctx: RuntimeSourceContext | undefined;
  abort: AbortController;
  routes: HttpRoutes & { clear(): void };
  lastError: { at: string; message: string } | undefined;
  startError: string | undefined;
}

export interface AgentOptions {
  log: Logger;
  /** Replaces the Kafka producer (tests and benchmarks of the outbox side only). */
  createSender?: (events: SenderEvents) => MessageSender;
  /** Time for the shipper and every source (default: the system clock). */
  clock?: Clock;
  /** More to show in /status (a fleet-managed agent's control state). */
  extraStatus?: () => Record<string, unknown>;
}

/** What reload did; `failed` are sources that did not start (they stay listed, state `failed`). */
export interface ReloadResult {
  started: string[];
  stopped: string[];
  unchanged: string[];
  failed: Array<{ id: string; reason: string }>;
}

/** One source as the fleet control code sees it (the check-in's health, the honest apply). */
export interface SourceReport {
  id: string;
  type: string;
  dataset: string;
  state: SourceState['state'];
  position?: string;
  lastError?: { at: string; message: string };
  /** It started and has committed records, or has been through what there was to read once. */
  proven: boolean;
  /** Through what there was to read at least once (SourceState.caughtUp). */
  caughtUp: boolean;
  /** When it last committed records in this run. */
  lastCommitAt?: string;
  startError?: string;
}

/** Records per dataset since the process started (cumulative; never reset by a reload). */
export interface DatasetTotals {
  read: number;
  committed: number;
  shipped: number;
}

export class Agent {
  readonly #options: AgentOptions;
  readonly #log: Logger;
  #loaded: LoadedConfig;
  readonly metrics = new AgentMetrics();
  #outbox: Outbox | undefined;
  #shipper: Shipper | undefined;
  #http: AgentHttpServer | undefined;
  #datasets: DatasetWatch | undefined;
  readonly #sources = new Map<string, RunningSource>();
  readonly #totals = new Map<string, DatasetTotals>();
  #address: string | undefined;
  #startedAt = new Date().toISOString();
  #stopping = false;

  constructor(loaded: LoadedConfig, options: AgentOptions) {
    this.#loaded = loaded;
    this.#options = options;
    this.#log = options.log;
  }

  get config(): AgentConfig {
    return this.#loaded.config;
  }

  /** Every record id embeds it: a config without one never starts (the CLI says so first). */
  get agentId(): string {
    const id = this.#loaded.config.agentId;
    if (id === undefined) throw new Error('agentId is required');
    return id;
  }

  get startedAt(): string {
    return this.#startedAt;
  }

  get outbox(): Outbox {
    if (!this.#outbox) throw new Error('agent not started');
    return this.#outbox;
  }

  /** `http://host:port` of the HTTP server once started. */
  get url(): string | undefined {
    return this.#address;
  }

  async start(): Promise<void> {
    const config = this.config;
    const agentId = this.agentId;
    const dataDir = path.resolve(this.#loaded.baseDir, config.dataDir);
    const kafka = config.kafka;
    // Frames are stored as Kafka record batches with the producer's compression: encoded once, sent as they are.
    this.#outbox = new Outbox({
      file: path.join(dataDir, 'outbox.db'),
      maxBytes: config.outbox.maxBytes,
      maxRows: config.outbox.maxRows,
      synchronous: config.outbox.synchronous,
      recordBatches: kafka.compression,
    });
    this.metrics.watchOutbox(this.#outbox);
    this.#shipper = new Shipper({
      outbox: this.#outbox,
      createSender:
        this.#options.createSender ??
        ((events) =>
          new KafkaProducer({ brokers: kafka.brokers, clientId: kafka.clientId, compression: kafka.compression, retryUntilAcknowledged: true, onRetry: events.onRetry })),
      batchSize: config.shipper.batchSize,
      lingerMs: config.shipper.lingerMs,
      maxBatchBytes: config.shipper.maxBatchBytes,
      log: this.#log.child({ component: 'shipper' }),
      clock: this.#options.clock,
      onShipped: (batch) => {
        for (const [dataset, n] of countByDataset(batch)) {
          this.metrics.recordsShipped.inc({ dataset }, n);
          this.#totalsOf(dataset).shipped += n;
        }
      },
      onResent: (batch, reason) => {
        for (const [dataset, n] of countByDataset(batch)) this.metrics.recordsResent.inc({ dataset, reason }, n);
      },
    });
    this.#shipper.start();
    this.#http = new AgentHttpServer({
      log: this.#log.child({ component: 'http' }),
      token: config.http.token,
      metrics: async () => ({ contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() }),
      status: () => this.status(),
      healthy: () => this.#health(),
    });
    const address = await this.#http.listen(config.http.listen);
    this.#address = `http://${address.address}:${address.port}`;
    for (const sourceConfig of config.sources) await this.#startSource(sourceConfig);
    this.#datasets = new DatasetWatch(() => this.config, this.#log.child({ component: 'dataset-check' }));
    this.#datasets.start();
    this.#log.info({ agentId, http: this.#address, sources: config.sources.length, outboxRows: this.#outbox.stats().rows }, 'agent started');
  }

  /** Applies a new config: sources whose config changed or vanished stop (after their last commit), new ones start. */
  async reload(next: LoadedConfig): Promise<ReloadResult> {
    const previous = this.config;
    // Sections the running outbox, producer and server were built from keep their old values until a restart.
    const effective: AgentConfig = { ...next.config };
    const needsRestart: string[] = [];
    for (const key of ['agentId', 'dataDir', 'kafka', 'outbox', 'shipper'] as const) {
      if (JSON.stringify(previous[key]) !== JSON.stringify(next.config[key])) {
        needsRestart.push(key);
        Object.assign(effective, { [key]: previous[key] });
      }
    }
    if (previous.http.listen !== next.config.http.listen) {
      needsRestart.push('http.listen');
      effective.http = { ...next.config.http, listen: previous.http.listen };
    }
    if (needsRestart.length > 0) this.#log.warn({ sections: needsRestart }, 'these config sections only take effect after a restart');
    // First: it refuses to drop the token while the server listens beyond loopback, and nothing has changed yet.
    this.#http?.setToken(next.config.http.token);
    this.#loaded = { ...next, config: effective };
    const wanted = new Map(next.config.sources.map((s) => [s.id, s]));
    const stopped: string[] = [];
    const unchanged: string[] = [];
    for (const [id, running] of this.#sources) {
      const want = wanted.get(id);
      if (want && fingerprintOf(want) === running.fingerprint && running.startError === undefined) {
        unchanged.push(id);
        wanted.delete(id);
        continue;
      }
      await this.#stopSource(running);
      this.#sources.delete(id);
      stopped.push(id);
    }
    const started: string[] = [];
    const failed: ReloadResult['failed'] = [];
    for (const sourceConfig of wanted.values()) {
      const startError = await this.#startSource(sourceConfig);
      if (startError === undefined) started.push(sourceConfig.id);
      else failed.push({ id: sourceConfig.id, reason: startError });
    }
    this.#datasets?.recheck();
    this.#log.info({ started, stopped, unchanged, failed: failed.map((f) => f.id) }, 'config reloaded');
    return { started, stopped, unchanged, failed };
  }

  async stop(drainTimeoutMs = this.config.shipper.drainTimeoutMs): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    await this.#datasets?.stop();
    for (const running of this.#sources.values()) await this.#stopSource(running);
    this.#sources.clear();
    await this.#shipper?.stop(drainTimeoutMs);
    await this.#http?.close();
    const left = this.#outbox?.stats().rows ?? 0;
    this.#outbox?.close();
    this.#log.info({ outboxRowsLeft: left }, 'agent stopped');
  }

  /** The sources as they are now, typed (status() is the redacted view for humans). */
  sourceReports(): SourceReport[] {
    return [...this.#sources.values()].map((r) => {
      const own: SourceState = r.source ? r.source.status() : { state: 'failed' };
      const state = r.ctx ? r.ctx.status(own) : own;
      const lastError = state.lastError ?? r.lastError ?? (r.startError ? { at: this.#startedAt, message: r.startError } : undefined);
      return {
        id: r.config.id,
        type: r.config.type,
        dataset: r.config.dataset,
        state: state.state,
        ...(state.position ? { position: state.position } : {}),
        ...(lastError ? { lastError } : {}),
        proven: r.startError === undefined && (state.caughtUp === true || state.firstCommitAt !== undefined),
        caughtUp: state.caughtUp === true,
        ...(state.lastCommitAt ? { lastCommitAt: state.lastCommitAt } : {}),
        ...(r.startError === undefined ? {} : { startError: r.startError }),
      };
    });
  }

  /** The outbox's counts, zero before start and after stop. */
  outboxStats(): { rows: number; bytes: number; oldestAgeSeconds: number } {
    return this.#outbox && !this.#outbox.closed ? this.#outbox.stats() : { rows: 0, bytes: 0, oldestAgeSeconds: 0 };
  }

  /** Records read, committed and shipped per dataset since this process started. */
  datasetTotals(): Map<string, Readonly<DatasetTotals>> {
    return this.#totals;
  }

  #totalsOf(dataset: string): DatasetTotals {
    let totals = this.#totals.get(dataset);
    if (totals === undefined) {
      totals = { read: 0, committed: 0, shipped: 0 };
      this.#totals.set(dataset, totals);
    }
    return totals;
  }

  status(): unknown {
    const sources = [...this.#sources.values()].map((r) => {
      const own: SourceState = r.source ? r.source.status() : { state: 'failed' };
      const state = r.ctx ? r.ctx.status(own) : own;
      const lastError = state.lastError ?? r.lastError ?? (r.startError ? { at: this.#startedAt, message: r.startError } : undefined);
      const datasetProblem = this.#datasets?.problemOf(`sources[${this.config.sources.findIndex((s) => s.id === r.config.id)}].dataset`);
      return { id: r.config.id, type: r.config.type, dataset: r.config.dataset, ...state, ...(lastError ? { lastError } : {}), ...(datasetProblem ? { warnings: [datasetProblem] } : {}) };
    });
    return redact({
      agentId: this.config.agentId,
      ...this.#options.extraStatus?.(),
      startedAt: this.#startedAt,
      configFile: this.#loaded.file,
      sources,
      ...(this.#datasets?.status() ? { datasets: this.#datasets.status() } : {}),
      outbox: this.#outbox && !this.#outbox.closed ? this.#outbox.stats() : undefined,
      shipper: this.#shipper?.status(),
    });
  }

  #health(): { ok: boolean; reason?: string } {
    if (this.#stopping) return { ok: false, reason: 'stopping' };
    const outbox = this.#outbox?.stats();
    if (outbox?.state === 'disk-full') return { ok: false, reason: 'outbox disk full' };
    return { ok: true };
  }

  /** Starts a source; answers why it failed to start, if it did (it stays listed as failed). */
  async #startSource(config: SourceConfig): Promise<string | undefined> {
    const abort = new AbortController();
    const routes = this.#http!.scope();
    const running: RunningSource = { config, fingerprint: fingerprintOf(config), source: undefined, ctx: undefined, abort, routes, lastError: undefined, startError: undefined };
    this.#sources.set(config.id, running);
    const log = this.#log.child({ source: config.id, type: config.type });
    try {
      const source = await createSource(config, {
        baseDir: this.#loaded.baseDir,
        allowedRoots: new AllowedRoots(this.config.allowedRoots, this.#loaded.baseDir),
        http: routes,
        breakerState: (endpoint, state) => this.metrics.breakerState.set({ source: config.id, endpoint }, state),
        reconnected: () => this.metrics.sourceReconnects.inc({ source: config.id }),
      });
      running.source = source;
      const ctx = (running.ctx = createSourceContext({
        agentId: this.agentId,
        sourceId: config.id,
        totals: this.#totalsOf(config.dataset),
        outbox: this.outbox,
        log,
        signal: abort.signal,
        metrics: this.metrics,
        topicPrefix: this.config.kafka.topicPrefix,
        wire: this.config.kafka.envelope,
        partitionKey: (config as { partitionKey?: string }).partitionKey,
        onError: (message) => (running.lastError = { at: new Date().toISOString(), message }),
        clock: this.#options.clock,
      }));
      await source.start(ctx);
      log.info('source started');
      return undefined;
    } catch (error) {
      running.startError = (error as Error).message;
      this.metrics.sourceErrors.inc({ source: config.id });
      log.error({ err: error }, 'source failed to start');
      return running.startError;
    }
  }

  async #stopSource(running: RunningSource): Promise<void> {
    running.routes.clear();
    running.abort.abort(new Error('source stopped'));
    await running.source?.stop().catch((error: unknown) => this.#log.warn({ err: error, source: running.config.id }, 'source stop failed'));
  }
}

function fingerprintOf(config: SourceConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex');
}

function countByDataset(batch: readonly ShipItem[]): Map<string, number> {
  const byDataset = new Map<string, number>();
  for (const m of batch) {
    const dataset = m.headers[KAFKA_HEADERS.dataset] ?? 'unknown';
    byDataset.set(dataset, (byDataset.get(dataset) ?? 0) + ('records' in m ? m.records : 1));
  }
  return byDataset;
}
