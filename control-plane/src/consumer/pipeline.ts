/**
 * The consumer's core, free of Kafka so it can be tested with in-memory sinks: a batch of fetched messages
 * in, the offsets that may be committed out. Per message:
 *
 *   intake (record-intake.ts): decoded and checked ──► invalid, or what any store would refuse ──► DLQ
 *   blob chunk ──────────────────────────────────────────────► blob store (object store, blob-steps.ts)
 *   closing blob envelope ─► blob store completes the file (sha256 checked) ─► then like any valid record
 *   valid ──► grouped by dataset + topic-partition ──► every enabled sink in parallel (sink-writer.ts)
 *                sink ok ─► done (its rejected records ─► DLQ)
 *                sink retryable (an outage) ─► breaker + backoff, same batch again, until ok (never skipped)
 *                sink unclassified / throws ─► retried within a budget, then the records ─► DLQ
 *                sink failed ─► the batch's records ─► DLQ with the sink's reason
 *
 * A batch settles per topic-partition (`start`): a partition's share is done when each of its records is
 * in every sink or in the DLQ, and only then may its offset be committed. A dataset whose sink is down
 * therefore holds only its own partitions (the Kafka loop pauses its topic) and loses nothing; a poison
 * record is dead-lettered and never blocks its partition. `process` waits for the whole batch.
 */
import type { Clock } from '@sluice/shared/clock';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { withRetry, type Backoff, type UnclassifiedBudget } from '@sluice/shared/node/retry';
import { SeenIdLedger } from '../analytics/seen-id-ledger.ts';
import type { ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { BatchLookups, type DatasetLookup } from './batch-lookups.ts';
import { BlobSteps, type BlobStep, type BlobStore } from './blob-steps.ts';
import type { DeadLetters, DlqEntry } from './dead-letters.ts';
import { RecordIntake } from './record-intake.ts';
import type { InputTopics } from './raw-topics.ts';
import type { ReferenceData } from '../datasets/record-processor.ts';
import type { QualityCounts } from './quality-counts.ts';
import { SinkErrorTally } from './sink-error-counts.ts';
import type { SinkRegistry } from '../sinks/registry.ts';
import { SinkWriter, type Group, type Stall } from './sink-writer.ts';

export type { BlobChunk, BlobStore } from './blob-steps.ts';
export type { DatasetLookup } from './batch-lookups.ts';

export interface PipelineOptions {
  datasets: DatasetLookup;
  validators: ValidatorCache;
  sinks: SinkRegistry;
  deadLetters: DeadLetters;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  blobs?: BlobStore;
  maxRecordBytes?: number;
  /** Backoff between attempts of a stalled sink or DLQ write. */
  retry?: { minDelayMs?: number; maxDelayMs?: number };
  breaker?: { resetTimeoutMs?: number; timeoutMs?: number };
  /** How long a sink error nobody classified is retried before its records are dead-lettered. */
  unclassified?: UnclassifiedBudget;
  /** Aborting ends a stalled retry loop (shutdown): the batch is then not committed. */
  signal?: AbortSignal;
  /** What every wait between attempts sleeps on and what the unclassified budget is measured by. */
  clock?: Clock;
  /** Aggregates of datasets without the PostgreSQL sink, folded once every sink took the records (docs/analytics.md). */
  seenIds?: SeenIdLedger;
  /** The datasets' raw input topics, whose messages are wrapped into envelopes (raw-topics.ts). */
  inputs?: InputTopics;
  /** Lookup tables and agent labels for the transforms (datasets/reference-data.ts). */
  refs?: ReferenceData;
  /** Where the quality rules' outcomes are counted (quality-counts.ts). */
  quality?: QualityCounts;
}

export type DatasetCounts = Map<string, { ingested: number; failed: number }>;

/** One topic-partition's share of a batch; it settles on its own, whatever the other partitions do. */
export interface PartitionShare {
  topic: string;
  partition: number;
  /** The share's highest offset: once `done`, everything at or below it is in the sinks or the DLQ. */
  offset: bigint;
  /** Per dataset: records written to all its sinks, records dead-lettered. Rejects on shutdown. */
  done: Promise<DatasetCounts>;
}

export interface BatchResult {
  /** Highest offset per topic-partition: everything at or below it is in the sinks or the DLQ. */
  commit: Array<{ topic: string; partition: number; offset: bigint }>;
  /** Per dataset: records written to all its sinks, records dead-lettered. */
  counts: DatasetCounts;
}

export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #backoff: Backoff;
  readonly #recordIntake: RecordIntake;
  readonly #writer: SinkWriter;
  readonly #blobs: BlobSteps;
  /** Failed writes and refused records per dataset and sink since the consumer loop last flushed them. */
  readonly sinkErrors = new SinkErrorTally();
  /**
   * Batches may overlap in the sinks, but their intake (decode, validate) runs one batch after the other,
   * so each partition's blob steps are queued in offset order (see blob-steps.ts).
   */
  #intake: Promise<void> = Promise.resolve();

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#backoff = { minDelayMs: options.retry?.minDelayMs ?? 200, maxDelayMs: options.retry?.maxDelayMs ?? 5_000, signal: options.signal, clock: options.clock };
    this.#recordIntake = new RecordIntake({ maxRecordBytes: options.maxRecordBytes ?? 1024 * 1024, metrics: options.metrics, ...(options.inputs ? { inputs: options.inputs } : {}), ...(options.refs ? { refs: options.refs } : {}), ...(options.quality ? { quality: options.quality } : {}) });
    const { unclassified } = options;
    this.#writer = new SinkWriter({
      sinks: options.sinks,
      metrics: options.metrics,
      logger: options.logger,
      backoff: this.#backoff,
      errors: this.sinkErrors,
      ...(options.breaker ? { breaker: options.breaker } : {}),
      ...(unclassified ? { unclassified } : {}),
    });
    this.#blobs = new BlobSteps({ blobs: options.blobs, logger: options.logger, backoff: this.#backoff, ...(unclassified ? { unclassified } : {}) });
  }

  /** The whole batch: resolves when every partition's share is done. */
  async process(messages: readonly IncomingMessage[]): Promise<BatchResult> {
    const shares = this.start(messages);
    const counts: DatasetCounts = new Map();
    for (const shareCounts of await Promise.all(shares.map((s) => s.done))) addCounts(counts, shareCounts);
    return { commit: shares.map(({ topic, partition, offset }) => ({ topic, partition, offset })), counts };
  }

  /**
   * Starts a batch and returns its share of each topic-partition at once. `onStall` is called when a
   * share's sink write could not be done at the first attempt (the caller may pause that dataset).
   */
  start(messages: readonly IncomingMessage[], onStall: (share: PartitionShare, stall: Stall) => void = () => undefined): PartitionShare[] {
    const intake = this.#intakeInOrder(messages);
    // A batch with no message has no share to carry a shutdown rejection to its caller.
    intake.catch(() => undefined);
    return highestOffsets(messages).map(({ topic, partition, offset }) => {
      const key = `${topic}\u0000${partition}`;
      const share: PartitionShare = {
        topic,
        partition,
        offset,
        done: intake.then(({ dead, groups, blobSteps }) =>
          this.#settle(key, dead.get(key) ?? [], groups.get(key) ?? [], blobSteps.get(key) ?? [], (stall) => onStall(share, stall)),
        ),
      };
      // Observed by the caller; this only keeps a shutdown rejection from counting as "unhandled" first.
      share.done.catch(() => undefined);
      return share;
    });
  }

  /** Batches may overlap in the sinks; their intake runs one after the other (see `#intake`). */
  async #intakeInOrder(messages: readonly IncomingMessage[]): Promise<{ dead: Map<string, DlqEntry[]>; groups: Map<string, Group[]>; blobSteps: Map<string, BlobStep[]> }> {
    const lookups = new BatchLookups(this.#o.datasets, this.#o.validators, (what, operation) => this.#retry(what, operation));
    const previous = this.#intake;
    let intakeDone = (): void => undefined;
    this.#intake = new Promise<void>((resolve) => (intakeDone = resolve));
    try {
      await previous;
      const { dead, groups, blobSteps } = await this.#recordIntake.take(messages, lookups);
      return { dead: byPartition(dead), groups: byPartition(groups), blobSteps: byPartition(blobSteps) };
    } finally {
      intakeDone();
    }
  }

  /** One partition's share: its blob steps, its groups into the sinks, then what failed into the DLQ. */
  async #settle(key: string, intakeDead: DlqEntry[], groups: Group[], blobSteps: BlobStep[], onStall: (stall: Stall) => void): Promise<DatasetCounts> {
    const counts: DatasetCounts = new Map();
    const count = (dataset: string | undefined, field: 'ingested' | 'failed', n = 1): void => {
      const key = dataset ?? '(unknown)';
      const c = counts.get(key) ?? { ingested: 0, failed: 0 };
      c[field] += n;
      counts.set(key, c);
    };
    const dead = [...intakeDead];
    if (blobSteps.length > 0) {
      const blobs = await this.#blobs.run(key, blobSteps, onStall);
      dead.push(...blobs.dead);
      // A record whose file could not be assembled is in the DLQ instead of the sinks.
      if (blobs.failedIds.size > 0) groups = groups.map((g) => withoutIds(g, blobs.failedIds)).filter((g) => g.records.length > 0);
    }
    const sinkDead = await Promise.all(groups.map((g) => this.#writer.writeGroup(g, onStall)));
    for (const [i, group] of groups.entries()) {
      const groupDead = sinkDead[i] ?? [];
      if (groupDead.length === 0) {
        count(group.dataset.spec.name, 'ingested', group.records.length);
        continue;
      }
      const failedIds = new Set(groupDead.map((e) => e.recordId));
      count(group.dataset.spec.name, 'ingested', group.records.filter((r) => !failedIds.has(r.envelope.id)).length);
      dead.push(...groupDead);
    }
    await this.#foldThroughLedger(groups, sinkDead);
    // One DLQ entry per message: a record two sinks rejected is dead-lettered once, with both reasons.
    const merged = mergeByPosition(dead);
    for (const entry of merged) {
      count(entry.dataset, 'failed');
      this.#o.metrics.dlqRecords.inc({ dataset: entry.dataset ?? '(unknown)' });
    }
    if (merged.length > 0) await this.#retry('dlq', () => this.#o.deadLetters.write(merged));
    return counts;
  }

  /** A dataset that aggregates without the PostgreSQL sink: its stored records go through the seen-id ledger. */
  async #foldThroughLedger(groups: readonly Group[], sinkDead: ReadonlyArray<readonly DlqEntry[]>): Promise<void> {
    const ledger = this.#o.seenIds;
    if (!ledger) return;
    await Promise.all(
      groups.map(async (group, i) => {
        if (!SeenIdLedger.serves(group.dataset)) return;
        const failed = new Set((sinkDead[i] ?? []).map((e) => e.recordId));
        const stored = group.records.filter((r) => !failed.has(r.envelope.id)).map((r) => r.envelope);
        await this.#retry('analytics ledger', () => ledger.fold(group.dataset, stored));
      }),
    );
  }

  async close(): Promise<void> {
    this.#writer.close();
    await Promise.resolve();
  }

  /** Retries until success or shutdown: records are never skipped because a store is down. */
  #retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let logged = false;
    return withRetry(operation, {
      ...this.#backoff,
      retries: Infinity,
      // The registry and the DLQ throw when they are unreachable; whatever they throw is worth waiting out.
      isRetryable: () => true,
      onRetry: (error, attempt, delayMs) => {
        // Once per stall, then every 20th attempt: an outage must not flood the log.
        if (!logged || attempt % 20 === 0) this.#o.logger.warn({ what, attempt, delayMs, err: error.message }, 'waiting to retry');
        logged = true;
      },
    });
  }
}

function addCounts(into: DatasetCounts, from: DatasetCounts): void {
  for (const [dataset, c] of from) {
    const sum = into.get(dataset) ?? { ingested: 0, failed: 0 };
    sum.ingested += c.ingested;
    sum.failed += c.failed;
    into.set(dataset, sum);
  }
}

function withoutIds(group: Group, ids: ReadonlySet<string>): Group {
  const keep = group.records.map((r) => !ids.has(r.envelope.id));
  return { ...group, records: group.records.filter((_, i) => keep[i]), messages: group.messages.filter((_, i) => keep[i]) };
}

function byPartition<T extends { topic: string; partition: number }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const key = `${item.topic}\u0000${item.partition}`;
    const list = out.get(key);
    if (list) list.push(item);
    else out.set(key, [item]);
  }
  return out;
}

function mergeByPosition(entries: readonly DlqEntry[]): DlqEntry[] {
  const byPosition = new Map<string, DlqEntry>();
  for (const e of entries) {
    const key = `${e.topic}\u0000${e.partition}\u0000${e.offset}`;
    const seen = byPosition.get(key);
    byPosition.set(key, seen ? { ...seen, reason: `${seen.reason}; ${e.reason}` } : e);
  }
  return [...byPosition.values()];
}

export function highestOffsets(messages: readonly IncomingMessage[]): BatchResult['commit'] {
  const highest = new Map<string, { topic: string; partition: number; offset: bigint }>();
  // Messages come in runs of one partition: the previous message's entry is usually the one to update.
  let last: { topic: string; partition: number; offset: bigint } | undefined;
  for (const m of messages) {
    if (last?.topic !== m.topic || last.partition !== m.partition) {
      const key = `${m.topic}\u0000${m.partition}`;
      last = highest.get(key);
      if (!last) {
        last = { topic: m.topic, partition: m.partition, offset: m.offset };
        highest.set(key, last);
      }
    }
    if (m.offset > last.offset) last.offset = m.offset;
  }
  return [...highest.values()];
}
