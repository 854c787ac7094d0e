/**
 * The Kafka side of the consumer: subscribes the group to every dataset topic (`<prefix>*` except the
 * DLQ) and the datasets' raw input topics, follows new topics by re-subscribing, cuts the stream into batches (max records / max
 * bytes / max wait),
 * hands each to the pipeline and commits each topic-partition as far as its records are settled.
 *
 * One dataset never stops the others. Topics are one per dataset, and a batch settles per partition:
 *
 *   share of a batch ──► settled (in the sinks or the DLQ) ──► its partition commits up to it
 *        │
 *        └─ a sink write still not done after `pauseAfterMs` ──► the share is parked (retried in the
 *           background, records held in memory) and its topic PAUSED: re-subscribed without it, so the
 *           loop goes on with every other topic ──► once every share of the topic settled and committed
 *           (the sink healed, or the unclassified budget sent them to the DLQ) ──► RESUMED (re-subscribed
 *           with it, reading on from the committed offset)
 *
 * The client has no per-partition pause, hence the re-subscription. Memory stays bounded: a paused topic
 * is not fetched, so what is parked is what was in flight when it stalled. Backpressure otherwise: at most
 * `maxInFlight` batches have unsettled, unparked shares; while that many wait, this loop does not pull,
 * the client's bounded stream buffer fills and fetching stops; heartbeats continue.
 */
import type pg from 'pg';
import { systemClock, type Clock } from '@sluice/shared/clock';
import { DLQ_TOPIC } from '@sluice/shared/envelope';
import type { IncomingMessage, KafkaConsumer } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import type { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { addIngestCounts } from './ingest-counts.ts';
import { PartitionOffsets } from './partition-offsets.ts';
import type { DatasetCounts, PartitionShare, Pipeline } from './pipeline.ts';
import type { Stall } from './sink-writer.ts';

export interface ConsumerLoopOptions {
  consumer: KafkaConsumer;
  pipeline: Pipeline;
  listTopics: () => Promise<string[]>;
  /** The datasets' raw input topics (raw-topics.ts), subscribed beside the dataset topics once they exist. */
  inputTopics?: () => Promise<string[]>;
  pool: pg.Pool;
  metrics: ControlPlaneMetrics;
  logger: Logger;
  topicPrefix: string;
  dlqTopic?: string;
  maxRecords: number;
  /**
   * Most bytes (values + keys) in one batch, so what a batch holds is bounded whatever the record size. A
   * single message larger than this still makes a batch of its own. Default: no bound beyond maxRecords.
   */
  maxBytes?: number;
  maxWaitMs: number;
  topicRefreshMs: number;
  /** Batches in the sinks at once (parked shares of paused topics aside). Default 2. */
  maxInFlight?: number;
  /** How long a sink write may stall before its topic is paused (default 2 s): a blip is not worth a rejoin. */
  pauseAfterMs?: number;
  lagIntervalMs?: number;
  /** Every wait of the loop (batch filling, refresh intervals, the pause delay) sleeps on it. */
  clock?: Clock;
}

interface Paused {
  datasets: Set<string>;
  since: number;
}

const TIMEOUT = Symbol('timeout');
/** TIMEOUT once the event loop has turned: whatever the Kafka client had already received is delivered by then. */
const alreadyArrived = (): Promise<typeof TIMEOUT> => new Promise((resolve) => setImmediate(() => resolve(TIMEOUT)));

/** What a message weighs in a batch: its value and key (headers are a few short strings). */
export function messageBytes(message: IncomingMessage): number {
  return message.value.length + (message.key?.length ?? 0);
}

export function datasetTopics(all: readonly string[], prefix: string, dlqTopic: string = DLQ_TOPIC): string[] {
  return all.filter((t) => t.startsWith(prefix) && t !== dlqTopic && t.length > prefix.length).sort();
}

export class ConsumerLoop {
  readonly #o: ConsumerLoopOptions;
  readonly #clock: Clock;
  #stopping = false;
  /** Ends the periodic tasks' waits on stop. */
  readonly #stop = new AbortController();
  #topics: string[] = [];
  /** Topics left out of the subscription while their stalled shares are retried. */
  readonly #paused = new Map<string, Paused>();
  /** The subscription must change: topics appeared, or a topic was paused or resumed. */
  #topicsChanged = false;
  /** Wakes the batch-filling wait when the subscription must change. */
  #wake: () => void = () => undefined;
  readonly #offsets = new PartitionOffsets();
  /** Offsets waiting for the next commit request, highest per partition. */
  readonly #toCommit = new Map<string, { topic: string; partition: number; offset: bigint }>();
  /** Commit requests go out one at a time, so a partition's offsets reach the broker in order. */
  #commits: Promise<void> = Promise.resolve();
  /** Listing failures are logged when they start and when they end, not on every refresh. */
  #listingFails = false;
  #running: Promise<void> | undefined;
  /** Counts of committed batches not yet added to ingest_counts (one entry per dataset: bounded). */
  #pendingCounts = new Map<string, { ingested: number; failed: number }>();
  /** Offset commits made since start. */
  commits = 0;

  constructor(options: ConsumerLoopOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
  }

  start(): Promise<void> {
    this.#running ??= this.#run();
    return this.#running;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#stop.abort();
    await this.#o.consumer.stopMessages().catch(() => undefined);
    await this.#running?.catch(() => undefined);
    await this.#flushCounts();
  }

  async #run(): Promise<void> {
    const { logger } = this.#o;
    this.#every(this.#o.topicRefreshMs, () => this.#refreshTopics());
    this.#every(this.#o.lagIntervalMs ?? 10_000, () => this.#updateLag());
    // Per-minute counts are written once a second, off the batch path.
    this.#every(1_000, () => this.#flushCounts());
    while (!this.#stopping) {
      await this.#refreshTopics();
      const topics = this.#topics.filter((t) => !this.#paused.has(t));
      if (topics.length === 0) {
        this.#topicsChanged = false;
        // With no topic yet there is no open socket either, and the clock's timers do not hold the process:
        // it would exit quietly before the first dataset's topic appears. This handle holds it meanwhile.
        const keepAlive = setInterval(() => undefined, 60_000);
        try {
          await this.#sleepUnlessChanged(Math.min(this.#o.topicRefreshMs, 1_000));
        } finally {
          clearInterval(keepAlive);
        }
        continue;
      }
      this.#topicsChanged = false;
      logger.info({ topics, paused: [...this.#paused.keys()] }, 'consuming');
      try {
        await this.#consume(topics);
      } catch (error) {
        if (this.#stopping) break;
        logger.error({ err: error }, 'consumer stream failed; resubscribing');
        await this.#clock.sleep(1_000, { signal: this.#stop.signal }).catch(() => undefined);
      } finally {
        await this.#o.consumer.stopMessages().catch(() => undefined);
      }
    }
  }

  /**
   * Up to `maxInFlight` batches are in the sinks at once (sink latency overlaps). Returns when the
   * subscription must change, after every share handed out is settled and committed, or parked (its
   * topic paused), so the next subscription reads each topic on from where it was committed.
   */
  async #consume(topics: string[]): Promise<void> {
    const { maxRecords, maxWaitMs } = this.#o;
    const maxBytes = this.#o.maxBytes ?? Infinity;
    const iterator = this.#o.consumer.messageChunks(topics, maxRecords)[Symbol.asyncIterator]();
    const maxInFlight = Math.max(1, this.#o.maxInFlight ?? 2);
    const inFlight: Array<Promise<void>> = [];
    // Batches handed out and not yet settled: while there are none, the sinks are idle.
    let unsettled = 0;
    let pending: Promise<IteratorResult<IncomingMessage[]>> | undefined;
    // What the last chunk brought beyond a full batch, from `carriedAt` on: the start of the next one(s).
    let carried: IncomingMessage[] = [];
    let carriedAt = 0;
    // A fresh promise for each wait. A race keeps its result reachable from every contender still pending:
    // one promise raced for the whole subscription held every chunk the stream ever yielded (RSS grew with
    // the records consumed, 250k messages retained after 30 s of a backlog).
    const changed = (): Promise<typeof TIMEOUT> => new Promise((resolve) => (this.#wake = () => resolve(TIMEOUT)));
    try {
      while (!this.#stopping && !this.#topicsChanged) {
        const batch: IncomingMessage[] = [];
        let bytes = 0;
        let full = false;
        /** Moves the messages of `chunk` from `at` into the batch while they fit; answers where it stopped. */
        const fill = (chunk: IncomingMessage[], at: number): number => {
          let i = at;
          for (; i < chunk.length; i++) {
            const size = messageBytes(chunk[i]!);
            if (batch.length >= maxRecords || (batch.length > 0 && bytes + size > maxBytes)) break;
            batch.push(chunk[i]!);
            bytes += size;
          }
          full = i < chunk.length || batch.length >= maxRecords || bytes >= maxBytes;
          return i;
        };
        const carry = (chunk: IncomingMessage[], at: number): void => {
          const stopped = fill(chunk, at);
          [carried, carriedAt] = stopped < chunk.length ? [chunk, stopped] : [[], 0];
        };
        carry(carried, carriedAt);
        let deadline = batch.length > 0 ? this.#clock.now() + maxWaitMs : Infinity;
        let ended = false;
        while (!full && !this.#topicsChanged) {
          pending ??= iterator.next();
          // Wait for the first message at most a few fill periods (to notice new topics and stop
          // requests). Then, while the sinks are idle, take only what has already arrived: waiting to fill
          // a batch would add latency and buy nothing. While a batch is in the sinks, fill this one for at
          // most maxWaitMs: under load batches grow by themselves.
          const next =
            batch.length > 0 && unsettled === 0
              ? await Promise.race([pending, changed(), alreadyArrived()])
              : await this.#raceSleep<IteratorResult<IncomingMessage[]> | typeof TIMEOUT>(batch.length === 0 ? maxWaitMs * 5 : Math.max(0, deadline - this.#clock.now()), pending, changed());
          if (next === TIMEOUT) break;
          pending = undefined;
          if (next.done) {
            ended = true;
            break;
          }
          if (batch.length === 0) deadline = this.#clock.now() + maxWaitMs;
          carry(next.value, 0);
          this.#o.metrics.bufferedRecords.set(batch.length);
        }
        // A batch cut while the subscription changes still goes in: its messages are handed out, and the
        // next subscription reads on after them once they are committed.
        if (batch.length > 0) {
          unsettled += 1;
          inFlight.push(this.#submit(batch).finally(() => (unsettled -= 1)));
          if (inFlight.length >= maxInFlight) await inFlight.shift();
        }
        this.#o.metrics.bufferedRecords.set(0);
        if (ended) return;
      }
    } finally {
      this.#wake = () => undefined;
      await Promise.all(inFlight);
    }
  }

  /** Hands a batch to the pipeline; resolves when each of its shares is committed or parked. */
  #submit(batch: IncomingMessage[]): Promise<void> {
    const started = this.#clock.now();
    const parkers = new Map<PartitionShare, () => void>();
    const shares = this.#o.pipeline.start(batch, (share, stall) => this.#stalled(share, stall, parkers.get(share)));
    return Promise.all(
      shares.map((share) => {
        const tracked = this.#offsets.add(share.topic, share.partition, share.offset);
        const parked = new Promise<void>((resolve) => parkers.set(share, resolve));
        const committed = share.done.then(
          async (counts) => {
            const offset = this.#offsets.settle(tracked);
            await this.#commit(share.topic, share.partition, offset, counts);
            await this.#maybeResume(share.topic);
          },
          // Shutdown: the share stays unsettled, so nothing at or after it is committed.
          () => undefined,
        );
        return Promise.race([committed, parked]);
      }),
    ).then(() => this.#o.logger.debug({ records: batch.length, ms: this.#clock.now() - started }, 'batch settled or parked'));
  }

  /** A sink write of the share did not succeed at once: park it and pause its topic if it stays stuck. */
  #stalled(share: PartitionShare, stall: Stall, park: (() => void) | undefined): void {
    // A share that settles first needs no pause: its wait is cancelled.
    const settled = new AbortController();
    const cancel = (): void => settled.abort();
    share.done.then(cancel, cancel);
    this.#clock.sleep(this.#o.pauseAfterMs ?? 2_000, { signal: settled.signal }).then(
      () => {
        // While stopping nothing is subscribed again; parking only lets the stop stop waiting for it.
        if (!this.#stopping) this.#pause(share.topic, stall);
        park?.();
      },
      () => undefined,
    );
  }

  #pause(topic: string, stall: Stall): void {
    const paused = this.#paused.get(topic);
    if (paused) {
      paused.datasets.add(stall.dataset);
      this.#o.metrics.pausedDatasets.set({ dataset: stall.dataset }, 1);
      return;
    }
    this.#paused.set(topic, { datasets: new Set([stall.dataset]), since: this.#clock.now() });
    this.#o.metrics.pausedDatasets.set({ dataset: stall.dataset }, 1);
    this.#o.logger.warn(
      { topic, dataset: stall.dataset, sink: stall.sink, err: stall.reason },
      'dataset paused: a sink keeps failing its writes; they are retried in the background and every other dataset goes on loading',
    );
    this.#changeSubscription();
  }

  async #maybeResume(topic: string): Promise<void> {
    if (!this.#paused.has(topic) || this.#offsets.unsettled(topic) > 0) return;
    // Every share of the topic is settled; the last commit requests may still be on their way.
    await this.#commits;
    const paused = this.#paused.get(topic);
    if (!paused || this.#offsets.unsettled(topic) > 0) return;
    this.#paused.delete(topic);
    for (const dataset of paused.datasets) this.#o.metrics.pausedDatasets.set({ dataset }, 0);
    this.#o.logger.info({ topic, datasets: [...paused.datasets], pausedMs: this.#clock.now() - paused.since }, 'dataset resumed: its stalled records are in the sinks or the DLQ');
    if (!this.#stopping) this.#changeSubscription();
  }

  #changeSubscription(): void {
    this.#topicsChanged = true;
    this.#wake();
  }

  async #sleepUnlessChanged(ms: number): Promise<void> {
    await this.#raceSleep(ms, new Promise<void>((resolve) => (this.#wake = resolve)));
    this.#wake = () => undefined;
  }

  /** The first of `contenders` to settle, or TIMEOUT after `ms`; the sleep that lost is cancelled, not left to run out. */
  async #raceSleep<T>(ms: number, ...contenders: Array<Promise<T>>): Promise<Awaited<T> | typeof TIMEOUT> {
    const lost = new AbortController();
    const timeout = this.#clock.sleep(ms, { signal: lost.signal }).then(
      (): typeof TIMEOUT => TIMEOUT,
      (): typeof TIMEOUT => TIMEOUT,
    );
    try {
      return await Promise.race([...contenders, timeout]);
    } finally {
      lost.abort();
    }
  }

  /** Runs `task` every `ms` until stop (the next wait starts when the task is done). */
  #every(ms: number, task: () => Promise<void>): void {
    void (async () => {
      while (!this.#stopping) {
        try {
          await this.#clock.sleep(ms, { signal: this.#stop.signal });
        } catch {
          return;
        }
        await task();
      }
    })();
  }

  /** Commits the partition up to `offset` (if it moved) together with whatever else is waiting. */
  async #commit(topic: string, partition: number, offset: bigint | undefined, counts: DatasetCounts): Promise<void> {
    for (const [dataset, c] of counts) {
      const pending = this.#pendingCounts.get(dataset) ?? { ingested: 0, failed: 0 };
      pending.ingested += c.ingested;
      pending.failed += c.failed;
      this.#pendingCounts.set(dataset, pending);
    }
    if (offset === undefined) return;
    const key = `${topic}\u0000${partition}`;
    const waiting = this.#toCommit.get(key);
    if (!waiting || waiting.offset < offset) this.#toCommit.set(key, { topic, partition, offset });
    this.#commits = this.#commits.then(() => this.#sendCommits());
    await this.#commits;
  }

  async #sendCommits(): Promise<void> {
    // An earlier request may have taken these offsets along already.
    if (this.#toCommit.size === 0) return;
    const offsets = [...this.#toCommit.values()];
    this.#toCommit.clear();
    try {
      await this.#o.consumer.commit(offsets);
      this.commits++;
    } catch (error) {
      // Typically a rebalance took the partition: its new owner re-reads from the last commit and the
      // idempotent sinks absorb the repeat.
      this.#o.logger.warn({ err: (error as Error).message, partitions: offsets.length }, 'commit failed; those records will be redelivered');
    }
  }

  async #flushCounts(): Promise<void> {
    const sinkErrors = this.#o.pipeline.sinkErrors.take();
    if (this.#pendingCounts.size === 0 && sinkErrors.length === 0) return;
    const counts = this.#pendingCounts;
    this.#pendingCounts = new Map();
    try {
      await addIngestCounts(this.#o.pool, counts, new Date(), sinkErrors);
    } catch (error) {
      this.#o.pipeline.sinkErrors.restore(sinkErrors);
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
      const all = await this.#o.listTopics();
      const inputs = new Set(await (this.#o.inputTopics?.() ?? Promise.resolve([])));
      const topics = [...new Set([...datasetTopics(all, this.#o.topicPrefix, this.#o.dlqTopic), ...all.filter((t) => inputs.has(t))])].sort();
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
