/**
 * Writes one batch to one sink until it has an answer the pipeline can act on. Per attempt:
 *
 *   ok / failed ───────────────────────────────────────────────► returned (failed: the records go to the DLQ)
 *   retryable, breaker open, timed out (a known outage) ────────► wait and retry, for as long as it lasts
 *   unclassified, or the sink threw (nobody knows what it is) ──► retry within the budget, then returned as
 *                                                                   `unclassified` (the records go to the DLQ)
 *
 * An outage is waited out because the records will load once the store is back; an unknown error may never
 * go away, and retrying it forever would hold its dataset for good. Breakers are per sink and dataset, so
 * one dataset's failing writes never open the breaker for the others that share the sink.
 */
import CircuitBreaker from 'opossum';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { retryOutcome, type Backoff, type UnclassifiedBudget } from '@sluice/shared/node/retry';
import { retryable, unclassified } from '@sluice/shared/outcome';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import type { Sink, SinkBatch, SinkRecord, SinkWriteResult } from '../sinks/sink.ts';
import type { DlqEntry, RecordOrigin } from './dead-letters.ts';
import type { SinkErrorTally } from './sink-error-counts.ts';
import type { SinkRegistry } from '../sinks/registry.ts';

/** One dataset's valid records from one topic partition, in the shape the sinks take, and their messages. */
export interface Group {
  dataset: DatasetVersion;
  topic: string;
  partition: number;
  records: SinkRecord[];
  /** `messages[i]` carried `records[i]`. */
  messages: IncomingMessage[];
}

/** A dataset whose sink did not take a batch at the first attempt. */
export interface Stall {
  dataset: string;
  sink: string;
  reason: string;
}

export interface SinkWriterOptions {
  sinks: SinkRegistry;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  /** Waits between attempts; aborting its signal ends every retry loop (shutdown): the write then rejects and nothing is committed. */
  backoff: Backoff;
  breaker?: { resetTimeoutMs?: number; timeoutMs?: number };
  unclassified?: UnclassifiedBudget;
  /** Where failed writes and refused records are tallied per minute for the pipeline health API. */
  errors?: SinkErrorTally;
}

/**
 * A sink's `retryable` or `unclassified` answer, carried through the breaker as a rejection: the breaker
 * counts only rejections, and must count these to open. `#attempt` turns it back into the answer.
 */
class NotDone extends Error {
  readonly outcome: SinkWriteResult;
  constructor(outcome: SinkWriteResult & { reason: string }) {
    super(outcome.reason);
    this.outcome = outcome;
  }
}

export class SinkWriter {
  readonly #o: SinkWriterOptions;
  readonly #breakers = new Map<string, CircuitBreaker<[SinkBatch], SinkWriteResult>>();
  /** Writes stalled per sink: its `paused` gauge is 1 while any is. */
  readonly #stalled = new Map<string, number>();
  readonly #warned = new Set<string>();

  constructor(options: SinkWriterOptions) {
    this.#o = options;
  }

  /**
   * Writes one dataset's records of one partition to all its sinks; resolves with what must be
   * dead-lettered once every sink answered (rejects only on shutdown). `onStall` is called once per sink
   * whose first attempt did not settle it.
   */
  async writeGroup(group: Group, onStall: (stall: Stall) => void): Promise<DlqEntry[]> {
    const { dataset, records, messages } = group;
    const name = dataset.spec.name;
    const batch: SinkBatch = {
      dataset,
      topic: group.topic,
      partition: group.partition,
      firstOffset: records[0]!.offset,
      lastOffset: records.at(-1)!.offset,
      records,
    };
    const { sinks, missing } = this.#o.sinks.forDataset(dataset.spec);
    for (const key of missing) {
      if (this.#warned.has(`${name}\u0000${key}`)) continue;
      this.#warned.add(`${name}\u0000${key}`);
      this.#o.logger.warn({ dataset: name, sink: key }, 'dataset enables a sink this consumer does not run; skipped');
    }
    const results = await Promise.all(
      sinks.map(async (sink) => ({ sink, result: await this.#write(sink, batch, (reason) => onStall({ dataset: name, sink: sink.name, reason })) })),
    );
    const dead: DlqEntry[] = [];
    const deadLetter = (i: number, id: string, reason: string): void => {
      dead.push(dlqEntry(messages[i]!, reason, name, id, dataset.version, records[i]?.envelope));
    };
    let byIndex: Map<string, number> | undefined;
    for (const { sink, result } of results) {
      const labels = { dataset: name, sink: sink.name };
      if (result.kind === 'failed' || result.kind === 'unclassified') {
        this.#o.metrics.countByAgent(this.#o.metrics.ingestionErrors, labels, records);
        this.#o.errors?.add(name, sink.name, { rejected: records.length });
        const reason =
          result.kind === 'failed'
            ? `sink ${sink.name} refused the batch: ${result.reason}`
            : `sink ${sink.name} kept failing with an error it does not classify: ${result.reason}`;
        records.forEach((r, i) => deadLetter(i, r.envelope.id, reason));
        continue;
      }
      const rejected = result.rejected ?? [];
      if (rejected.length === 0) {
        this.#o.metrics.countByAgent(this.#o.metrics.ingestedRows, labels, records);
        continue;
      }
      const refused = new Set(rejected.map((r) => r.id));
      this.#o.metrics.countByAgent(this.#o.metrics.ingestedRows, labels, records, (recordId) => !refused.has(recordId));
      this.#o.metrics.countByAgent(this.#o.metrics.ingestionErrors, labels, records, (recordId) => refused.has(recordId));
      this.#o.errors?.add(name, sink.name, { rejected: rejected.length });
      // Built only when a sink rejected something: most batches need no lookup by id.
      byIndex ??= new Map(records.map((r, i) => [r.envelope.id, i]));
      for (const r of rejected) {
        const i = byIndex.get(r.id);
        if (i !== undefined) deadLetter(i, r.id, `sink ${sink.name} rejected the record: ${r.reason}`);
      }
    }
    return dead.length === 0 ? dead : noteHolders(dead, results);
  }

  /** Resolves `ok`, `failed` or `unclassified` (budget spent); rejects only on shutdown. */
  async #write(sink: Sink, batch: SinkBatch, onStall: (reason: string) => void): Promise<SinkWriteResult> {
    const breaker = this.#breaker(sink, batch.dataset.spec.name);
    const labels = { dataset: batch.dataset.spec.name, sink: sink.name };
    let stalled = false;
    try {
      return await retryOutcome(
        async () => {
          const outcome = await this.#attempt(breaker, batch);
          if (outcome.kind === 'retryable' || outcome.kind === 'unclassified') {
            this.#o.metrics.ingestionErrors.inc(labels);
            this.#o.errors?.add(labels.dataset, labels.sink, { failedWrites: 1 });
            if (!stalled) {
              stalled = true;
              this.#setStalled(sink.name, +1);
              onStall(outcome.reason);
            }
          }
          return outcome;
        },
        {
          ...this.#o.backoff,
          ...(this.#o.unclassified ? { unclassified: this.#o.unclassified } : {}),
          // The consumer logs the pause of the dataset once; each retry is only worth a debug line.
          onRetry: (outcome, attempt, delayMs) => this.#o.logger.debug({ ...labels, attempt, delayMs, err: outcome.reason }, 'waiting to retry the sink'),
          onGiveUp: (last, spent) => {
            this.#o.logger.warn({ ...labels, records: batch.records.length, attempts: spent.attempts, err: last.reason }, 'sink keeps failing with an unclassified error: dead-lettering the batch');
            return unclassified(`${last.reason} (${spent.attempts} attempts over ${Math.round(spent.elapsedMs / 1000)} s)`);
          },
        },
      );
    } finally {
      if (stalled) this.#setStalled(sink.name, -1);
    }
  }

  /** One write through the breaker, whatever happened to it told as an outcome; rejects only on shutdown. */
  async #attempt(breaker: CircuitBreaker<[SinkBatch], SinkWriteResult>, batch: SinkBatch): Promise<SinkWriteResult> {
    try {
      return await breaker.fire(batch);
    } catch (error) {
      if (error instanceof NotDone) return error.outcome;
      const reason = error instanceof Error ? error.message : String(error);
      const code = (error as { code?: unknown } | null)?.code;
      // The pipeline closed under a stalled write: end the loop, leaving the records uncommitted.
      if (code === 'ESHUTDOWN') throw error;
      // The breaker's own refusals are an outage like any other; an open one is worth waiting out.
      if (code === 'EOPENBREAKER' || code === 'ETIMEDOUT') return retryable(reason, breaker.opened ? this.#o.breaker?.resetTimeoutMs ?? 5_000 : 0);
      // The sink threw: nobody knows what this is.
      return unclassified(reason);
    }
  }

  close(): void {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
  }

  #setStalled(sink: string, delta: number): void {
    const n = (this.#stalled.get(sink) ?? 0) + delta;
    this.#stalled.set(sink, n);
    this.#o.metrics.paused.set({ sink }, n > 0 ? 1 : 0);
  }

  #breaker(sink: Sink, dataset: string): CircuitBreaker<[SinkBatch], SinkWriteResult> {
    const key = `${sink.name}\u0000${dataset}`;
    let breaker = this.#breakers.get(key);
    if (breaker) return breaker;
    const action = async (batch: SinkBatch): Promise<SinkWriteResult> => {
      const end = this.#o.metrics.sinkLatency.startTimer({ sink: sink.name });
      const result = await sink.write(batch);
      end();
      if (result.kind === 'retryable' || result.kind === 'unclassified') throw new NotDone(result);
      return result;
    };
    breaker = new CircuitBreaker(action, {
      timeout: this.#o.breaker?.timeoutMs ?? 120_000,
      resetTimeout: this.#o.breaker?.resetTimeoutMs ?? 5_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
    });
    // A failed half-open probe opens the breaker again: logged once per outage, not once per probe.
    let open = false;
    breaker.on('open', () => {
      if (!open) this.#o.logger.warn({ sink: sink.name, dataset }, 'sink breaker open: pausing writes to it');
      open = true;
    });
    breaker.on('close', () => {
      if (open) this.#o.logger.info({ sink: sink.name, dataset }, 'sink breaker closed: writes resumed');
      open = false;
    });
    this.#breakers.set(key, breaker);
    return breaker;
  }
}

export function dlqEntry(message: IncomingMessage, reason: string, dataset?: string, recordId?: string, schemaVersion?: number, origin?: RecordOrigin): DlqEntry {
  return {
    origin,
    dataset,
    recordId,
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    reason,
    schemaVersion,
    original: message.value,
    headers: message.headers,
  };
}

/**
 * A refusal the record guard did not foresee (a field whose type an earlier record fixed, an index's
 * field count filled up by many records): the other stores have the record by now. One entry per record,
 * with every sink's reason and which stores hold it, so whoever replays or deletes it knows where it is.
 */
function noteHolders(dead: readonly DlqEntry[], results: ReadonlyArray<{ sink: Sink; result: SinkWriteResult }>): DlqEntry[] {
  const byRecord = new Map<string | undefined, DlqEntry>();
  for (const e of dead) {
    const seen = byRecord.get(e.recordId);
    byRecord.set(e.recordId, seen ? { ...seen, reason: `${seen.reason}; ${e.reason}` } : e);
  }
  return [...byRecord.values()].map((entry) => {
    const holders = results
      .filter(({ result }) => result.kind === 'ok' && !(result.rejected ?? []).some((r) => r.id === entry.recordId))
      .map(({ sink }) => sink.name);
    return { ...entry, reason: `${entry.reason}; ${holders.length === 0 ? 'no store holds it' : `stored in ${holders.join(', ')}`}` };
  });
}
