/** The agent's Prometheus metrics (names from shared/src/metric-names.ts), on a registry of its own. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { METRICS, MISNAMED_DEFAULT_METRICS } from '@sluice/shared/metric-names';
import type { Outbox } from '../outbox/outbox.ts';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly recordsRead: Counter<'source'>;
  readonly recordsCommitted: Counter<'source'>;
  readonly recordsShipped: Counter<'dataset'>;
  readonly recordsResent: Counter<'dataset' | 'reason'>;
  readonly sourceErrors: Counter<'source'>;
  readonly breakerState: Gauge<'source' | 'endpoint'>;
  readonly sourceReconnects: Counter<'source'>;
  #outbox: Outbox | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      for (const name of MISNAMED_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
    this.recordsRead = new Counter({ name: METRICS.agentRecordsRead, help: 'Records produced by sources', labelNames: ['source'], registers });
    this.recordsCommitted = new Counter({ name: METRICS.agentRecordsCommitted, help: 'Records committed to the outbox', labelNames: ['source'], registers });
    this.recordsShipped = new Counter({ name: METRICS.agentRecordsShipped, help: 'Records acknowledged by Kafka', labelNames: ['dataset'], registers });
    this.recordsResent = new Counter({
      name: METRICS.agentRecordsResent,
      help: 'Records handed to Kafka again under a new producer sequence (failed-send, restart): the topic may hold them twice',
      labelNames: ['dataset', 'reason'],
      registers,
    });
    this.sourceErrors = new Counter({ name: METRICS.agentSourceErrors, help: 'Source errors', labelNames: ['source'], registers });
    this.breakerState = new Gauge({
      name: METRICS.agentBreakerState,
      help: 'Circuit breaker state per source endpoint (0 closed, 1 half-open, 2 open)',
      labelNames: ['source', 'endpoint'],
      registers,
    });
    this.sourceReconnects = new Counter({ name: METRICS.agentSourceReconnects, help: 'Connections a source lost and made again', labelNames: ['source'], registers });
    const current = (): Outbox | undefined => (this.#outbox && !this.#outbox.closed ? this.#outbox : undefined);
    const outboxGauge = (name: string, help: string, read: (o: Outbox) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const outbox = current();
          if (outbox) this.set(read(outbox));
        },
      });
    };
    outboxGauge(METRICS.agentOutboxRows, 'Rows waiting in the outbox', (o) => o.stats().rows);
    outboxGauge(METRICS.agentOutboxBytes, 'Bytes waiting in the outbox', (o) => o.stats().bytes);
    outboxGauge(METRICS.agentOutboxOldestAge, 'Age of the oldest outbox row', (o) => o.stats().oldestAgeSeconds);
  }

  watchOutbox(outbox: Outbox): void {
    this.#outbox = outbox;
  }
}
