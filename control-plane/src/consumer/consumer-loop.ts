/**
 * The Kafka side of the consumer: subscribes the group to every dataset topic (`<prefix>*` except the
 * DLQ), follows new topics by re-subscribing, cuts the stream into batches (max records / max wait),
 * hands each to the pipeline and commits only what the pipeline returned.
 *
 * Backpressure: while the pipeline retries a stalled sink, this loop does not pull, the client's bounded
 * stream buffer fills and fetching stops; heartbeats continue, so the member keeps its partitions.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { DLQ_TOPIC } from '@sluice/shared/envelope';
import type { IncomingMessage, KafkaConsumer } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { addIngestCounts } from './ingest-counts.ts';
import type { BatchResult, Pipeline } from './pipeline.ts';

export interface ConsumerLoopOptions {
  consumer: KafkaConsumer;
  pipeline: Pipeline;
  listTopics: () => Promise<string[]>;
  pool: pg.Pool;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  topicPrefix: string;
  dlqTopic?: string;
  maxRecords: number;
  maxWaitMs: number;
  topicRefreshMs: number;
  /** Batches in the sinks at once; commits stay in order. Default 2. */
  maxInFlight?: number;
  lagIntervalMs?: number;
}

const TIMEOUT = Symbol('timeout');

export function datasetTopics(all: readonly string[], prefix: string, dlqTopic: string = DLQ_TOPIC): string[] {
  return all.filter((t) => t.startsWith(prefix) && t !== dlqTopic && t.length > prefix.length).sort();
}

export class ConsumerLoop {
  readonly #o: ConsumerLoopOptions;
  #stopping = false;
  #topics: string[] = [];
  #topicsChanged = false;
  /** Listing failures are logged when they start and when they end, not on every refresh. */
  #listingFails = false;
  #refreshTimer: NodeJS.Timeout | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Counts of committed batches not yet added to ingest_counts (one entry per dataset: bounded). */
  #pendingCounts = new Map<string, { ingested: number; failed: number }>();
  #countsTimer: NodeJS.Timeout | undefined;
  /** Batches committed since start (tests and the bench wait on it). */
  committedBatches = 0;

  constructor(options: ConsumerLoopOptions) {
    this.#o = options;
  }

  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#refreshTimer);
    clearInterval(this.#lagTimer);
    clearInterval(this.#countsTimer);
    await this.#o.consumer.stopMessages().catch(() => undefined);
    await this.#running?.catch(() => undefined);
    await this.#flushCounts();
  }

  async #run(): Promise<void> {
    const { logger } = this.#o;
    this.#refreshTimer = setInterval(() => void this.#refreshTopics(), this.#o.topicRefreshMs);
    this.#refreshTimer.unref();
    this.#lagTimer = setInterval(() => void this.#updateLag(), this.#o.lagIntervalMs ?? 10_000);
    this.#lagTimer.unref();
    // Per-minute counts are written once a second, off the batch path.
    this.#countsTimer = setInterval(() => void this.#flushCounts(), 1_000);
    this.#countsTimer.unref();
    while (!this.#stopping) {
      await this.#refreshTopics();
      if (this.#topics.length === 0) {
        // A referenced timer: with no topic yet there is no open socket either, and an unref'd wait would
        // let the process exit quietly before the first dataset's topic appears.
        await sleep(Math.min(this.#o.topicRefreshMs, 1_000));
        continue;
      }
      this.#topicsChanged = false;
      logger.info({ topics: this.#topics }, 'consuming');
      try {
        await this.#consume([...this.#topics]);
      } catch (error) {
        if (this.#stopping) break;
        logger.error({ err: error }, 'consumer stream failed; resubscribing');
        await sleep(1_000);
      } finally {
        await this.#o.consumer.stopMessages().catch(() => undefined);
      }
    }
  }

  /**
   * Up to `maxInFlight` batches are in the sinks at once (sink latency overlaps), but offsets are
   * committed strictly in batch order: batch n+1 commits only after batch n did. A failed batch (shutdown
   * while a sink is down) stops the chain, so nothing after it is committed either.
   */
  async #consume(topics: string[]): Promise<void> {
    const { maxRecords, maxWaitMs } = this.#o;
    const iterator = this.#o.consumer.messageChunks(topics, maxRecords)[Symbol.asyncIterator]();
    const maxInFlight = Math.max(1, this.#o.maxInFlight ?? 2);
    const inFlight: Array<Promise<void>> = [];
    let chain: Promise<void> = Promise.resolve();
    let pending: Promise<IteratorResult<IncomingMessage[]>> | undefined;
    // What the last chunk brought beyond a full batch: the start of the next one.
    let carried: IncomingMessage[] = [];
    try {
      while (!this.#stopping && !this.#topicsChanged) {
        const batch = carried.length > maxRecords ? carried.slice(0, maxRecords) : carried;
        carried = carried.length > maxRecords ? carried.slice(maxRecords) : [];
        let deadline = batch.length > 0 ? Date.now() + maxWaitMs : Infinity;
        let ended = false;
        while (batch.length < maxRecords) {
          pending ??= iterator.next();
          // Wait for the first message at most a few fill periods (to notice new topics and stop
          // requests), then fill the batch for at most maxWaitMs.
          const wait = batch.length === 0 ? maxWaitMs * 5 : Math.max(0, deadline - Date.now());
          const next = await Promise.race([pending, sleep(wait, TIMEOUT, { ref: false })]);
          if (next === TIMEOUT) break;
          pending = undefined;
          if (next.done) {
            ended = true;
            break;
          }
          if (batch.length === 0) deadline = Date.now() + maxWaitMs;
          const room = maxRecords - batch.length;
          for (let i = 0; i < next.value.length && i < room; i++) batch.push(next.value[i]!);
          if (next.value.length > room) carried = next.value.slice(room);
          this.#o.metrics.bufferedRecords.set(batch.length);
        }
        if (batch.length > 0) {
          const started = performance.now();
          const processing = this.#o.pipeline.process(batch);
          // Observed through the chain below; this only keeps an early rejection from being "unhandled".
          processing.catch(() => undefined);
          chain = chain.then(async () => {
            await this.#commit(await processing);
            this.#o.logger.debug({ records: batch.length, ms: Math.round(performance.now() - started) }, 'batch committed');
          });
          chain.catch(() => undefined);
          inFlight.push(chain);
          if (inFlight.length >= maxInFlight) await inFlight.shift();
        }
        this.#o.metrics.bufferedRecords.set(0);
        if (ended) return;
      }
    } finally {
      // Commits finish (or fail) before the caller resubscribes or stops.
      await chain.catch(() => undefined);
    }
    await chain;
  }

  async #commit(result: BatchResult): Promise<void> {
    try {
      await this.#o.consumer.commit(result.commit);
      this.committedBatches++;
    } catch (error) {
      // Typically a rebalance took the partition: its new owner re-reads from the last commit and the
      // idempotent sinks absorb the repeat.
      this.#o.logger.warn({ err: (error as Error).message, partitions: result.commit.length }, 'commit failed; the batch will be redelivered');
    }
    for (const [dataset, c] of result.counts) {
      const pending = this.#pendingCounts.get(dataset) ?? { ingested: 0, failed: 0 };
      pending.ingested += c.ingested;
      pending.failed += c.failed;
      this.#pendingCounts.set(dataset, pending);
    }
  }

  async #flushCounts(): Promise<void> {
    if (this.#pendingCounts.size === 0) return;
    const counts = this.#pendingCounts;
    this.#pendingCounts = new Map();
    try {
      await addIngestCounts(this.#o.pool, counts);
    } catch (error) {
      // Operating figures, not data: kept for the next attempt while PostgreSQL is away.
      for (const [dataset, c] of counts) {
        const pending = this.#pendingCounts.get(dataset) ?? { ingested: 0, failed: 0 };
        pending.ingested += c.ingested;
        pending.failed += c.failed;
        this.#pendingCounts.set(dataset, pending);
      }
      this.#o.logger.warn({ err: (error as Error).message }, 'could not record ingest counts; will retry');
    }
  }

  async #refreshTopics(): Promise<void> {
    try {
      const topics = datasetTopics(await this.#o.listTopics(), this.#o.topicPrefix, this.#o.dlqTopic);
      if (this.#listingFails) this.#o.logger.info('listing topics works again');
      this.#listingFails = false;
      if (topics.join('\n') !== this.#topics.join('\n')) {
        this.#topics = topics;
        this.#topicsChanged = true;
      }
    } catch (error) {
      if (!this.#listingFails) this.#o.logger.warn({ err: (error as Error).message }, 'could not list topics; keeping the current subscription');
      this.#listingFails = true;
    }
  }

  async #updateLag(): Promise<void> {
    try {
      for (const p of await this.#o.consumer.lag(this.#topics)) {
        this.#o.metrics.consumerLag.set({ topic: p.topic, partition: String(p.partition) }, Number(p.lag));
      }
    } catch (error) {
      this.#o.logger.debug({ err: (error as Error).message }, 'could not read consumer lag');
    }
  }
}
