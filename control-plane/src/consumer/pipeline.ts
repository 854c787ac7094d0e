/**
 * The consumer's core, free of Kafka so it can be tested with in-memory sinks: a batch of fetched messages
 * in, the offsets that may be committed out. Per message:
 *
 *   blob chunk ──────────────────────────────────────────────► blob store (object store)
 *   closing blob envelope ─► blob store completes the file (sha256 checked) ─► then like any valid record
 *   oversize │ not an envelope │ unknown dataset │ parseError │ schema mismatch ──► DLQ (reason + bytes)
 *   valid ──► grouped by dataset + topic-partition ──► every enabled sink in parallel
 *                sink ok ─► done (its rejected records ─► DLQ)
 *                sink retryable / throws ─► breaker + backoff, same batch again, until ok (never skipped)
 *                sink failed ─► the batch's records ─► DLQ with the sink's reason
 *
 * `process` resolves only when every record of the batch is in every sink or in the DLQ; only then are
 * its offsets returned for commit. A sink outage therefore stalls the batch (the Kafka loop stops pulling)
 * and loses nothing; a poison record is dead-lettered and never blocks its partition.
 */
import CircuitBreaker from 'opossum';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { CONTENT_TYPES, KAFKA_HEADERS, envelopeSchema, type Envelope } from '@sluice/shared/envelope';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import type { Outcome } from '@sluice/shared/outcome';
import { describeErrors, createAjv, type ValidatorCache } from '../datasets/validators.ts';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import type { Sink, SinkBatch, SinkRecord, SinkWriteResult } from '../sinks/sink.ts';
import type { DeadLetters, DlqEntry } from './dead-letters.ts';
import type { SinkRegistry } from './sink-registry.ts';

/** One chunk of a claim-checked blob (content-type application/vnd.sluice.blob-chunk). */
export interface BlobChunk {
  sha256: string;
  index: number;
  count: number;
  bytes: Uint8Array;
}

/**
 * The object store's blob path (sinks/object-store BlobAssembler satisfies it): chunks are stored as they
 * arrive, the closing envelope (the record whose `blob` describes the file) completes the blob. Both are
 * idempotent, so a redelivered batch is harmless.
 */
export interface BlobStore {
  writeChunk(chunk: BlobChunk): Promise<Outcome>;
  complete(envelope: Pick<Envelope, 'id' | 'blob'>): Promise<Outcome>;
}

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
  /** Aborting ends a stalled retry loop (shutdown): the batch is then not committed. */
  signal?: AbortSignal;
}

export interface BatchResult {
  /** Highest offset per topic-partition: everything at or below it is in the sinks or the DLQ. */
  commit: Array<{ topic: string; partition: number; offset: bigint }>;
  /** Per dataset: records written to all its sinks, records dead-lettered. */
  counts: Map<string, { ingested: number; failed: number }>;
}

interface Valid {
  message: IncomingMessage;
  envelope: Envelope;
}

const envelopeValidator = createAjv().compile(envelopeSchema);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export class Pipeline {
  readonly #o: PipelineOptions;
  readonly #maxRecordBytes: number;
  readonly #breakers = new Map<Sink, CircuitBreaker<[SinkBatch], SinkWriteResult>>();
  readonly #warned = new Set<string>();
  /**
   * Batches may overlap in the sinks, but their intake (decode, validate, blob chunks and completions)
   * runs one batch after the other: a blob's closing envelope in batch n+1 must find the chunks batch n
   * stored.
   */
  #intake: Promise<void> = Promise.resolve();

  constructor(options: PipelineOptions) {
    this.#o = options;
    this.#maxRecordBytes = options.maxRecordBytes ?? 1024 * 1024;
  }

  async process(messages: readonly IncomingMessage[]): Promise<BatchResult> {
    const dead: DlqEntry[] = [];
    const counts = new Map<string, { ingested: number; failed: number }>();
    const count = (dataset: string | undefined, field: 'ingested' | 'failed', n = 1): void => {
      const key = dataset ?? '(unknown)';
      const c = counts.get(key) ?? { ingested: 0, failed: 0 };
      c[field] += n;
      counts.set(key, c);
    };
    const groups = new Map<string, { dataset: DatasetVersion; items: Valid[] }>();
    // One registry lookup per dataset per batch, not per record.
    const lookups = new Map<string, DatasetVersion | undefined>();

    const previous = this.#intake;
    let intakeDone = (): void => undefined;
    this.#intake = new Promise<void>((resolve) => (intakeDone = resolve));
    try {
      await previous;
      await this.#intakeBatch(messages, lookups, dead, groups);
    } finally {
      intakeDone();
    }

    const sinkDead = await Promise.all([...groups.values()].map((g) => this.#writeGroup(g.dataset, g.items)));
    for (const [i, group] of [...groups.values()].entries()) {
      const failedIds = new Set((sinkDead[i] ?? []).map((e) => e.recordId));
      count(group.dataset.spec.name, 'ingested', group.items.filter((v) => !failedIds.has(v.envelope.id)).length);
      dead.push(...(sinkDead[i] ?? []));
    }
    // One DLQ entry per message: a record two sinks rejected is dead-lettered once, with both reasons.
    const merged = mergeByPosition(dead);
    for (const entry of merged) {
      count(entry.dataset, 'failed');
      this.#o.metrics.dlqRecords.inc({ dataset: entry.dataset ?? '(unknown)' });
    }
    await this.#retry('dlq', () => this.#o.deadLetters.write(merged));

    return { commit: highestOffsets(messages), counts };
  }

  async #intakeBatch(
    messages: readonly IncomingMessage[],
    lookups: Map<string, DatasetVersion | undefined>,
    dead: DlqEntry[],
    groups: Map<string, { dataset: DatasetVersion; items: Valid[] }>,
  ): Promise<void> {
    for (const message of messages) {
      if (message.headers[KAFKA_HEADERS.contentType] === CONTENT_TYPES.blobChunk) {
        const problem = await this.#writeBlobChunk(message);
        if (problem) dead.push(this.#entry(message, problem, message.headers[KAFKA_HEADERS.dataset]));
        continue;
      }
      const verdict = await this.#classify(message, lookups);
      if ('reason' in verdict) {
        dead.push(verdict.entry);
        this.#o.metrics.failedValidations.inc({ dataset: verdict.entry.dataset ?? '(unknown)' });
        continue;
      }
      if (verdict.envelope.blob) {
        // Its chunks sit before it in the same partition, so they were stored above or in earlier batches.
        const problem = await this.#completeBlob(verdict.envelope);
        if (problem) {
          dead.push(this.#entry(message, problem, verdict.dataset.spec.name, verdict.envelope.id, verdict.dataset.version));
          continue;
        }
      }
      const key = `${verdict.dataset.spec.name}\u0000${message.topic}\u0000${message.partition}`;
      let group = groups.get(key);
      if (!group) {
        group = { dataset: verdict.dataset, items: [] };
        groups.set(key, group);
      }
      group.items.push({ message, envelope: verdict.envelope });
    }
  }

  async close(): Promise<void> {
    for (const breaker of this.#breakers.values()) breaker.shutdown();
    this.#breakers.clear();
    await Promise.resolve();
  }

  async #classify(
    message: IncomingMessage,
    lookups: Map<string, DatasetVersion | undefined>,
  ): Promise<{ reason: string; entry: DlqEntry } | { dataset: DatasetVersion; envelope: Envelope }> {
    const reject = (reason: string, dataset?: string, envelope?: Envelope, version?: number): { reason: string; entry: DlqEntry } => ({
      reason,
      entry: this.#entry(message, reason, dataset, envelope?.id, version),
    });
    const headerDataset = message.headers[KAFKA_HEADERS.dataset];
    if (message.value.length > this.#maxRecordBytes) {
      return reject(`record is ${message.value.length} bytes, larger than the limit of ${this.#maxRecordBytes} bytes`, headerDataset);
    }
    let text: string;
    try {
      text = utf8.decode(message.value);
    } catch {
      return reject(`not a Sluice envelope: the value is not UTF-8 text (${message.value.length} bytes, starting ${message.value.subarray(0, 8).toString('hex')})`, headerDataset);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return reject(`not a Sluice envelope: ${(error as Error).message}`, headerDataset);
    }
    if (!envelopeValidator(parsed)) {
      return reject(`not a Sluice envelope: ${describeErrors(envelopeValidator.errors)}`, headerDataset);
    }
    const envelope = parsed as Envelope;
    const stamped = envelope.schemaVersion ?? 0;
    const lookupKey = `${envelope.dataset}@${stamped}`;
    let dataset = lookups.get(lookupKey);
    if (!lookups.has(lookupKey)) {
      dataset = await this.#retry('dataset registry', () => this.#o.datasets.latest(envelope.dataset, stamped));
      lookups.set(lookupKey, dataset);
    }
    if (!dataset) return reject(`unknown dataset ${envelope.dataset}`, envelope.dataset, envelope);
    if (envelope.parseError) {
      return reject(`could not be parsed at the source: ${envelope.parseError.reason}`, envelope.dataset, envelope, dataset.version);
    }
    const check = this.#o.validators.check(dataset.spec.name, dataset.version, dataset.schema, envelope.payload);
    if (!check.valid) {
      return reject(`does not match schema version ${dataset.version} of ${dataset.spec.name}: ${check.reason}`, envelope.dataset, envelope, dataset.version);
    }
    return { dataset, envelope };
  }

  #entry(message: IncomingMessage, reason: string, dataset?: string, recordId?: string, schemaVersion?: number): DlqEntry {
    return {
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

  async #writeBlobChunk(message: IncomingMessage): Promise<string | undefined> {
    const h = message.headers;
    const sha256 = h[KAFKA_HEADERS.blobSha256];
    const index = Number(h[KAFKA_HEADERS.blobChunk]);
    const count = Number(h[KAFKA_HEADERS.blobChunks]);
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) {
      return 'blob chunk without valid blob-sha256 / blob-chunk / blob-chunks headers';
    }
    const blobs = this.#o.blobs;
    if (!blobs) return 'blob chunk received, but this consumer has no object store for blobs';
    const outcome = await this.#retryOutcome('blob chunk', () => blobs.writeChunk({ sha256, index, count, bytes: message.value }));
    return outcome.kind === 'failed' ? `blob chunk refused by the object store: ${outcome.reason}` : undefined;
  }

  async #completeBlob(envelope: Envelope): Promise<string | undefined> {
    const blobs = this.#o.blobs;
    if (!blobs) return 'record carries a blob, but this consumer has no object store for blobs';
    const outcome = await this.#retryOutcome('blob', () => blobs.complete(envelope));
    return outcome.kind === 'failed' ? `blob could not be assembled: ${outcome.reason}` : undefined;
  }

  /** Runs an outcome-returning call until it is ok or failed; retryable means "again, later". */
  #retryOutcome(what: string, call: () => Promise<Outcome>): Promise<Outcome> {
    return this.#retry(what, async () => {
      const result = await call();
      if (result.kind === 'retryable') throw new RetryableError(result.reason, result.afterMs === undefined ? {} : { retryAfterMs: result.afterMs });
      return result;
    });
  }

  /** Writes one dataset's records of one partition to all its sinks; returns what must be dead-lettered. */
  async #writeGroup(dataset: DatasetVersion, items: readonly Valid[]): Promise<DlqEntry[]> {
    const first = items[0]!.message;
    const records: SinkRecord[] = items.map((v) => ({ envelope: v.envelope, topic: v.message.topic, partition: v.message.partition, offset: v.message.offset }));
    const batch: SinkBatch = {
      dataset,
      topic: first.topic,
      partition: first.partition,
      firstOffset: records[0]!.offset,
      lastOffset: records.at(-1)!.offset,
      records,
    };
    const { sinks, missing } = this.#o.sinks.forDataset(dataset.spec);
    for (const key of missing) this.#warnOnce(`missing:${dataset.spec.name}:${key}`, { dataset: dataset.spec.name, sink: key }, 'dataset enables a sink this consumer does not run; skipped');
    const byId = new Map(items.map((v) => [v.envelope.id, v]));
    const results = await Promise.all(sinks.map(async (sink) => ({ sink, result: await this.#writeSink(sink, batch) })));
    const dead: DlqEntry[] = [];
    for (const { sink, result } of results) {
      const labels = { dataset: dataset.spec.name, sink: sink.name };
      if (result.kind === 'failed') {
        this.#o.metrics.ingestionErrors.inc(labels, records.length);
        for (const v of items) dead.push(this.#entry(v.message, `sink ${sink.name} refused the batch: ${result.reason}`, dataset.spec.name, v.envelope.id, dataset.version));
        continue;
      }
      const rejected = result.rejected ?? [];
      this.#o.metrics.ingestedRows.inc(labels, records.length - rejected.length);
      if (rejected.length > 0) this.#o.metrics.ingestionErrors.inc(labels, rejected.length);
      for (const r of rejected) {
        const v = byId.get(r.id);
        if (v) dead.push(this.#entry(v.message, `sink ${sink.name} rejected the record: ${r.reason}`, dataset.spec.name, r.id, dataset.version));
      }
    }
    return dead;
  }

  async #writeSink(sink: Sink, batch: SinkBatch): Promise<SinkWriteResult> {
    const breaker = this.#breaker(sink);
    const dataset = batch.dataset.spec.name;
    let stalled = false;
    try {
      return await this.#retry(`sink ${sink.name}`, async () => {
        try {
          return await breaker.fire(batch);
        } catch (error) {
          if (!stalled) {
            stalled = true;
            this.#o.metrics.paused.set({ sink: sink.name }, 1);
          }
          this.#o.metrics.ingestionErrors.inc({ dataset, sink: sink.name });
          if (error instanceof RetryableError) throw error;
          // Open breaker, timeout, or an exception the sink did not classify: all mean "not written yet".
          throw new RetryableError((error as Error).message, { cause: error, retryAfterMs: breaker.opened ? this.#o.breaker?.resetTimeoutMs ?? 5_000 : 0 });
        }
      });
    } finally {
      if (stalled) this.#o.metrics.paused.set({ sink: sink.name }, 0);
    }
  }

  #breaker(sink: Sink): CircuitBreaker<[SinkBatch], SinkWriteResult> {
    let breaker = this.#breakers.get(sink);
    if (breaker) return breaker;
    const action = async (batch: SinkBatch): Promise<SinkWriteResult> => {
      const end = this.#o.metrics.sinkLatency.startTimer({ sink: sink.name });
      const result = await sink.write(batch);
      end();
      if (result.kind === 'retryable') {
        throw new RetryableError(result.reason, result.afterMs === undefined ? {} : { retryAfterMs: result.afterMs });
      }
      return result;
    };
    breaker = new CircuitBreaker(action, {
      timeout: this.#o.breaker?.timeoutMs ?? 120_000,
      resetTimeout: this.#o.breaker?.resetTimeoutMs ?? 5_000,
      errorThresholdPercentage: 50,
      volumeThreshold: 3,
    });
    breaker.on('open', () => this.#o.logger.warn({ sink: sink.name }, 'sink breaker open: pausing writes to it'));
    breaker.on('close', () => this.#o.logger.info({ sink: sink.name }, 'sink breaker closed: writes resumed'));
    this.#breakers.set(sink, breaker);
    return breaker;
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

  #warnOnce(key: string, fields: Record<string, unknown>, message: string): void {
    if (this.#warned.has(key)) return;
    this.#warned.add(key);
    this.#o.logger.warn(fields, message);
  }
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
  for (const m of messages) {
    const key = `${m.topic}\u0000${m.partition}`;
    const seen = highest.get(key);
    if (!seen || m.offset > seen.offset) highest.set(key, { topic: m.topic, partition: m.partition, offset: m.offset });
  }
  return [...highest.values()];
}
