/**
 * The consumer's core, free of Kafka so it can be tested with in-memory sinks: a batch of fetched messages
 * in, the offsets that may be committed out. Per message:
 *
 *   blob chunk ──────────────────────────────────────────────► blob store (object store, blob-steps.ts)
 *   closing blob envelope ─► blob store completes the file (sha256 checked) ─► then like any valid record
 *   oversize │ not an envelope │ unknown dataset │ parseError │ schema mismatch ──► DLQ (reason + bytes)
 *   what any store would refuse (record-guard.ts: NUL, depth, fields, numbers) ──► DLQ, before every sink
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
import { isUtf8 } from 'node:buffer';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, envelopeSchema, type Envelope } from '@sluice/shared/envelope';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import { inspect } from '@sluice/shared/record-guard';
import { isCsvRow } from '../datasets/csv-coercion.ts';
import { describeErrors, createAjv, type ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { BatchLookups, NOT_LOOKED_UP } from './batch-lookups.ts';
import { BlobSteps, type BlobStep, type BlobStore } from './blob-steps.ts';
import type { DeadLetters, DlqEntry } from './dead-letters.ts';
import type { SinkRegistry } from './sink-registry.ts';
import { SinkWriter, dlqEntry, type Group, type Stall, type UnclassifiedBudget } from './sink-writer.ts';

export type { BlobChunk, BlobStore } from './blob-steps.ts';

export interface DatasetLookup {
  /** `atLeastVersion`: the version the record was stamped with, so a just-published one is not missed. */
  latest(name: string, atLeastVersion?: number): Promise<DatasetVersion | undefined>;
}

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

type Rejected = { reason: string; entry: DlqEntry };
type Accepted = { dataset: DatasetVersion; envelope: Envelope };

const envelopeValidator = createAjv().compile(envelopeSchema);

export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #maxRecordBytes: number;
  readonly #writer: SinkWriter;
  readonly #blobs: BlobSteps;
  /**
   * Batches may overlap in the sinks, but their intake (decode, validate) runs one batch after the other,
   * so each partition's blob steps are queued in offset order (see blob-steps.ts).
   */
  #intake: Promise<void> = Promise.resolve();

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
    this.#writer = new SinkWriter({
      sinks: options.sinks,
      metrics: options.metrics,
      logger: options.logger,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.breaker ? { breaker: options.breaker } : {}),
      ...(options.unclassified ? { unclassified: options.unclassified } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    this.#blobs = new BlobSteps({
      blobs: options.blobs,
      logger: options.logger,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.unclassified ? { unclassified: options.unclassified } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
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
    const dead: DlqEntry[] = [];
    const groups = new Map<string, Group>();
    const blobSteps: BlobStep[] = [];
    const lookups = new BatchLookups(this.#o.datasets, this.#o.validators, (what, operation) => this.#retry(what, operation));
    const previous = this.#intake;
    let intakeDone = (): void => undefined;
    this.#intake = new Promise<void>((resolve) => (intakeDone = resolve));
    try {
      await previous;
      await this.#intakeBatch(messages, lookups, dead, groups, blobSteps);
    } finally {
      intakeDone();
    }
    return { dead: byPartition(dead), groups: byPartition([...groups.values()]), blobSteps: byPartition(blobSteps) };
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
    // One DLQ entry per message: a record two sinks rejected is dead-lettered once, with both reasons.
    const merged = mergeByPosition(dead);
    for (const entry of merged) {
      count(entry.dataset, 'failed');
      this.#o.metrics.dlqRecords.inc({ dataset: entry.dataset ?? '(unknown)' });
    }
    if (merged.length > 0) await this.#retry('dlq', () => this.#o.deadLetters.write(merged));
    return counts;
  }

  async #intakeBatch(
    messages: readonly IncomingMessage[],
    lookups: BatchLookups,
    dead: DlqEntry[],
    groups: Map<string, Group>,
    blobSteps: BlobStep[],
  ): Promise<void> {
    // Messages come in runs of one partition: the group of the previous one is usually the right one.
    let last: Group | undefined;
    for (const message of messages) {
      if (message.headers[KAFKA_HEADERS.contentType] === CONTENT_TYPES.blobChunk) {
        blobSteps.push({ kind: 'chunk', topic: message.topic, partition: message.partition, message });
        continue;
      }
      // Only what needs I/O is awaited (a dataset first seen in this batch): an await per record would
      // cost a turn of the microtask queue each.
      const decoded = this.#decode(message);
      if ('reason' in decoded) {
        this.#invalid(dead, decoded);
        continue;
      }
      const { envelope } = decoded;
      const stamped = envelope.schemaVersion ?? 0;
      let dataset = lookups.peek(envelope.dataset, stamped);
      if (dataset === NOT_LOOKED_UP) dataset = await lookups.lookUp(envelope.dataset, stamped);
      const verdict = this.#check(message, envelope, dataset, lookups);
      if ('reason' in verdict) {
        this.#invalid(dead, verdict);
        continue;
      }
      if (verdict.envelope.blob) {
        // Its chunks sit before it in the same partition: their steps are queued before this one.
        blobSteps.push({ kind: 'complete', topic: message.topic, partition: message.partition, message, envelope: verdict.envelope, dataset: verdict.dataset });
      }
      let group = last;
      if (group?.dataset !== verdict.dataset || group.topic !== message.topic || group.partition !== message.partition) {
        const key = `${verdict.dataset.spec.name}\u0000${message.topic}\u0000${message.partition}`;
        group = groups.get(key);
        if (!group) {
          group = { dataset: verdict.dataset, topic: message.topic, partition: message.partition, records: [], messages: [] };
          groups.set(key, group);
        }
        last = group;
      }
      group.records.push({ envelope: verdict.envelope, topic: message.topic, partition: message.partition, offset: message.offset });
      group.messages.push(message);
    }
  }

  async close(): Promise<void> {
    this.#writer.close();
    await Promise.resolve();
  }

  /** Size, UTF-8, JSON and the envelope schema: whether the bytes are a Sluice envelope at all. */
  #decode(message: IncomingMessage): Rejected | { envelope: Envelope } {
    const headerDataset = message.headers[KAFKA_HEADERS.dataset];
    if (message.value.length > this.#maxRecordBytes) {
      return this.#reject(message, `record is ${message.value.length} bytes, larger than the limit of ${this.#maxRecordBytes} bytes`, headerDataset);
    }
    const text = utf8Text(message.value);
    if (text === undefined) {
      return this.#reject(message, `not a Sluice envelope: the value is not UTF-8 text (${message.value.length} bytes, starting ${message.value.subarray(0, 8).toString('hex')})`, headerDataset);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return this.#reject(message, `not a Sluice envelope: ${(error as Error).message}`, headerDataset);
    }
    if (!envelopeValidator(parsed)) {
      return this.#reject(message, `not a Sluice envelope: ${describeErrors(envelopeValidator.errors)}`, headerDataset);
    }
    return { envelope: parsed };
  }

  /** The dataset's side: known, not a parse failure, and the payload matches the dataset's schema. */
  #check(message: IncomingMessage, envelope: Envelope, dataset: DatasetVersion | undefined, lookups: BatchLookups): Rejected | Accepted {
    if (!dataset) return this.#reject(message, `unknown dataset ${envelope.dataset}`, envelope.dataset, envelope);
    if (envelope.parseError) {
      return this.#reject(message, `could not be parsed at the source: ${envelope.parseError.reason}`, envelope.dataset, envelope, dataset.version);
    }
    // Before the schema, and whatever it allows: what one store would refuse goes to none of them.
    const refused = inspect(envelope.payload) ?? inspect({ id: envelope.id, agentId: envelope.agentId, source: envelope.source }, 'envelope');
    if (refused !== undefined) return this.#reject(message, `refused before any store: ${refused}`, envelope.dataset, envelope, dataset.version);
    const check = lookups.payloadCheck(dataset, isCsvRow(envelope.source))(envelope.payload);
    if (!check.valid) {
      return this.#reject(message, `does not match schema version ${dataset.version} of ${dataset.spec.name}: ${check.reason}`, envelope.dataset, envelope, dataset.version);
    }
    return { dataset, envelope: 'payload' in check ? { ...envelope, payload: check.payload } : envelope };
  }

  #invalid(dead: DlqEntry[], rejected: Rejected): void {
    dead.push(rejected.entry);
    this.#o.metrics.failedValidations.inc({ dataset: rejected.entry.dataset ?? '(unknown)', agent: this.#o.metrics.agentLabel(rejected.entry.headers[KAFKA_HEADERS.agentId]) });
  }

  #reject(message: IncomingMessage, reason: string, dataset?: string, envelope?: Envelope, version?: number): Rejected {
    return { reason, entry: this.#entry(message, reason, dataset, envelope?.id, version) };
  }

  #entry(message: IncomingMessage, reason: string, dataset?: string, recordId?: string, schemaVersion?: number): DlqEntry {
    return dlqEntry(message, reason, dataset, recordId, schemaVersion);
  }

  /** Retries until success or shutdown: records are never skipped because a store is down. */
  #retry<T>(what: string, operation: () => Promise<T>): Promise<T> {
    let logged = false;
    return withRetry(
      async () => {
        try {
          return await operation();
        } catch (error) {
          if (error instanceof RetryableError) throw error;
          throw new RetryableError((error as Error).message, { cause: error });
        }
      },
      {
        retries: Infinity,
        minDelayMs: this.#o.retry?.minDelayMs ?? 200,
        maxDelayMs: this.#o.retry?.maxDelayMs ?? 5_000,
        ...(this.#o.signal ? { signal: this.#o.signal } : {}),
        onRetry: (error, attempt, delayMs) => {
          // Once per stall, then every 20th attempt: an outage must not flood the log.
          if (!logged || attempt % 20 === 0) this.#o.logger.warn({ what, attempt, delayMs, err: error.message }, 'waiting to retry');
          logged = true;
        },
      },
    );
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

/**
 * The bytes as text if they are valid UTF-8, else undefined; a leading byte order mark is dropped. Same
 * answers as a fatal `TextDecoder`, about three times faster (validation and decoding are native here).
 */
export function utf8Text(bytes: Buffer): string | undefined {
  if (!isUtf8(bytes)) return undefined;
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}
