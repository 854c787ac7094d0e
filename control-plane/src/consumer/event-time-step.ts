/**
 * The consumer's event-time step (after transforms, before validation): a dataset that names its event-time
 * field (`spec.eventTime`, docs/analytics.md) gets each envelope's `eventTime` from the payload. A record whose
 * field is missing or unreadable keeps the time it had (the ingest time the edge stamped) and is counted in
 * `sluice_event_time_fallbacks_total{dataset, reason}`; it is never refused for it.
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { eventTimeReader, type EventTimeReader } from '@sluice/shared/event-time';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';

/** A stored spec whose pattern does not compile (a spec from before the schema checked patterns). */
const BAD_PATTERN: EventTimeReader = () => ({ miss: 'bad_pattern' });

export class EventTimeStep {
  readonly #metrics: ControlPlaneMetrics | undefined;
  /** Per dataset version object: the lookups hand out the same object for as long as a version is cached. */
  readonly #readers = new WeakMap<DatasetVersion, EventTimeReader | null>();

  constructor(metrics?: ControlPlaneMetrics) {
    this.#metrics = metrics;
  }

  /** The envelope with its event time taken from the payload, or unchanged (counted when it had to be). */
  stamp(dataset: DatasetVersion, envelope: Envelope): Envelope {
    const reader = this.#reader(dataset);
    if (reader === null) return envelope;
    const read = reader(envelope.payload);
    if ('miss' in read) {
      this.#metrics?.eventTimeFallbacks.inc({ dataset: dataset.spec.name, reason: read.miss });
      return envelope.eventTime === envelope.ingestTime ? envelope : { ...envelope, eventTime: envelope.ingestTime };
    }
    return read.iso === envelope.eventTime ? envelope : { ...envelope, eventTime: read.iso };
  }

  #reader(dataset: DatasetVersion): EventTimeReader | null {
    let reader = this.#readers.get(dataset);
    if (reader === undefined) {
      const spec = dataset.spec.eventTime;
      try {
        reader = spec ? eventTimeReader(spec) : null;
      } catch {
        reader = BAD_PATTERN;
      }
      this.#readers.set(dataset, reader);
    }
    return reader;
  }
}
