/**
 * Sink errors per dataset and sink, tallied when they happen and written with the ingest counts (one
 * statement about once a second, off the batch path: see ingest-counts.ts). A write that did not succeed
 * (an outage, retried) counts in `failedWrites`; a record the sink refused counts in `rejected`. Bounded:
 * one entry per dataset × sink between two flushes.
 */
export interface SinkErrorCount {
  dataset: string;
  sink: string;
  failedWrites: number;
  rejected: number;
}

export class SinkErrorTally {
  #counts = new Map<string, SinkErrorCount>();

  add(dataset: string, sink: string, delta: { failedWrites?: number; rejected?: number }): void {
    const key = `${dataset}\u0000${sink}`;
    let count = this.#counts.get(key);
    if (!count) {
      count = { dataset, sink, failedWrites: 0, rejected: 0 };
      this.#counts.set(key, count);
    }
    count.failedWrites += delta.failedWrites ?? 0;
    count.rejected += delta.rejected ?? 0;
  }

  /** What was tallied since the last take; the tally starts again from zero. */
  take(): SinkErrorCount[] {
    const taken = [...this.#counts.values()];
    this.#counts = new Map();
    return taken;
  }

  /** Puts back counts a failed flush took, for the next one. */
  restore(counts: readonly SinkErrorCount[]): void {
    for (const c of counts) this.add(c.dataset, c.sink, c);
  }
}
