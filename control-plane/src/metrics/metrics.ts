/**
 * The control plane's Prometheus metrics, names from shared/src/metric-names.ts. One registry per process
 * (tests make their own, so they never share counters). The record counters carry the agent that shipped
 * the records (envelope agentId), bounded by BoundedLabel.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS, MISNAMED_DEFAULT_METRICS } from '@sluice/shared/metric-names';
import { BoundedLabel } from './bounded-label.ts';

/** Distinct agent label values per process before the rest are counted as `(other)`. */
export const DEFAULT_MAX_AGENT_LABELS = 1000;

type RecordLabels = 'dataset' | 'sink' | 'agent';

export class ControlPlaneMetrics {
  readonly registry: Registry;
  readonly ingestedRows: Counter<RecordLabels>;
  readonly failedValidations: Counter<'dataset' | 'agent'>;
  /** Per record refused or failed by a sink (with agent) and per failed write attempt (without). */
  readonly ingestionErrors: Counter<RecordLabels>;
  readonly dlqRecords: Counter<'dataset'>;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly sinkLatency: Histogram<'sink'>;
  /** Records currently held by the consumer, waiting for their batch (bounded by the batch size). */
  readonly bufferedRecords: Gauge;
  readonly paused: Gauge<'sink'>;
  /** 1 while the consumer holds a dataset's topic out of its subscription because a sink of it keeps failing. */
  readonly pausedDatasets: Gauge<'dataset'>;
  /** Agent check-ins answered, by result (ok, unauthorized, forbidden, invalid, error). */
  readonly fleetCheckins: Counter<'result'>;
  /** Check-in answer time; `long_poll` apart, as a held long-poll takes as long as nothing changes. */
  readonly fleetCheckinLatency: Histogram<'long_poll'>;
  /** Rollbacks: `automatic` (a failed health gate) or `manual` (an operator's rollout or policy rollback). */
  readonly fleetRollbacks: Counter<'reason'>;
  /** Records whose event-time field was missing or unreadable, by reason: they keep their ingest time. */
  readonly eventTimeFallbacks: Counter<'dataset' | 'reason'>;

  readonly #agents: BoundedLabel;

  constructor(options: { defaultMetrics?: boolean; maxAgentLabels?: number } = {}) {
    this.registry = new Registry();
    this.#agents = new BoundedLabel(options.maxAgentLabels ?? DEFAULT_MAX_AGENT_LABELS);
    if (options.defaultMetrics) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
    const registers = [this.registry];
    this.ingestedRows = new Counter({ name: METRICS.ingestedRows, help: 'Records written to a sink', labelNames: ['dataset', 'sink', 'agent'], registers });
    this.failedValidations = new Counter({
      name: METRICS.failedValidations,
      help: 'Records that failed decoding or schema validation (sent to the DLQ)',
      labelNames: ['dataset', 'agent'],
      registers,
    });
    this.ingestionErrors = new Counter({
      name: METRICS.ingestionErrors,
      help: 'Sink write attempts that failed (retried or dead-lettered)',
      labelNames: ['dataset', 'sink', 'agent'],
      registers,
    });
    this.dlqRecords = new Counter({ name: METRICS.dlqRecords, help: 'Records sent to the DLQ', labelNames: ['dataset'], registers });
    this.consumerLag = new Gauge({ name: METRICS.consumerLag, help: 'Messages behind the log end, per partition', labelNames: ['topic', 'partition'], registers });
    this.sinkLatency = new Histogram({
      name: METRICS.sinkLatency,
      help: 'Sink write latency per batch, retries excluded',
      labelNames: ['sink'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.bufferedRecords = new Gauge({ name: 'sluice_consumer_buffered_records', help: 'Records fetched and not yet handed to the sinks', registers });
    this.paused = new Gauge({ name: 'sluice_sink_paused', help: '1 while the consumer waits for this sink to recover', labelNames: ['sink'], registers });
    this.pausedDatasets = new Gauge({
      name: 'sluice_dataset_paused',
      help: '1 while the consumer has paused this dataset (a sink of it keeps failing); other datasets keep loading',
      labelNames: ['dataset'],
      registers,
    });
    this.fleetCheckins = new Counter({ name: METRICS.fleetCheckins, help: 'Agent check-ins answered, by result', labelNames: ['result'], registers });
    this.fleetCheckinLatency = new Histogram({
      name: METRICS.fleetCheckinLatency,
      help: 'Time to answer an agent check-in (long_poll="true": the agent asked to be held until its config changes)',
      labelNames: ['long_poll'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15, 30],
      registers,
    });
    this.fleetRollbacks = new Counter({ name: METRICS.fleetRollbacks, help: 'Rollouts rolled back: automatic (health gate) or manual', labelNames: ['reason'], registers });
    this.eventTimeFallbacks = new Counter({
      name: METRICS.eventTimeFallbacks,
      help: 'Records whose dataset names an event-time field that was missing or unreadable; they keep their ingest time',
      labelNames: ['dataset', 'reason'],
      registers,
    });
  }

  /** The `agent` label value for an agent id (bounded; `(unknown)` when there is none). */
  agentLabel(agentId: string | undefined): string {
    return this.#agents.value(agentId);
  }

  /** Adds one per record (those `include` accepts, if given) to `counter`, split by the agent that shipped it. */
  countByAgent(
    counter: Counter<RecordLabels>,
    labels: { dataset: string; sink: string },
    records: Iterable<{ envelope: { id: string; agentId: string } }>,
    include?: (id: string) => boolean,
  ): void {
    const perAgent = new Map<string, number>();
    for (const { envelope } of records) {
      if (include && !include(envelope.id)) continue;
      const agent = this.#agents.value(envelope.agentId);
      perAgent.set(agent, (perAgent.get(agent) ?? 0) + 1);
    }
    for (const [agent, n] of perAgent) counter.inc({ ...labels, agent }, n);
  }
}
