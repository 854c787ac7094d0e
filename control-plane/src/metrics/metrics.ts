/**
 * The control plane's Prometheus metrics, names from shared/src/metric-names.ts. One registry per process
 * (tests make their own, so they never share counters).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS } from '@sluice/shared/metric-names';

export class ControlPlaneMetrics {
  readonly registry: Registry;
  readonly ingestedRows: Counter<'dataset' | 'sink'>;
  readonly failedValidations: Counter<'dataset'>;
  readonly ingestionErrors: Counter<'dataset' | 'sink'>;
  readonly dlqRecords: Counter<'dataset'>;
  readonly consumerLag: Gauge<'topic' | 'partition'>;
  readonly sinkLatency: Histogram<'sink'>;
  /** Records currently held by the consumer, waiting for their batch (bounded by the batch size). */
  readonly bufferedRecords: Gauge;
  readonly paused: Gauge<'sink'>;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    this.registry = new Registry();
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.ingestedRows = new Counter({ name: METRICS.ingestedRows, help: 'Records written to a sink', labelNames: ['dataset', 'sink'], registers });
    this.failedValidations = new Counter({
      name: METRICS.failedValidations,
      help: 'Records that failed decoding or schema validation (sent to the DLQ)',
      labelNames: ['dataset'],
      registers,
    });
    this.ingestionErrors = new Counter({
      name: METRICS.ingestionErrors,
      help: 'Sink write attempts that failed (retried or dead-lettered)',
      labelNames: ['dataset', 'sink'],
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
  }
}
