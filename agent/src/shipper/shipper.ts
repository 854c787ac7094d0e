/**
 * Ships the outbox to Kafka: reads whole frames from the head in seq order (batches bounded by records and
 * bytes, lingering briefly for a fuller batch), sends them through the idempotent acks=all producer in
 * requests of at most `maxBatchBytes`, and deletes the frames only after the broker acknowledged all of
 * their messages.
 *
 * While the broker is down or a connection is lost, the producer retries each request itself with the same
 * producer sequence, so the broker drops a batch it had already written (the sender reports these retries
 * through `SenderEvents`: state `backoff`). Only a send that rejects is sent again by the shipper, with
 * jittered exponential backoff, forever, while the outbox grows; that and a restart with an unacknowledged
 * backlog are re-sends the broker cannot recognise, counted and logged (resends.ts). Every few rejected sends
 * the producer is recreated.
 */
import { systemClock, type Clock } from '@sluice/shared/clock';
import { PARTITION_BATCH_BYTES } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { untilAborted } from '@sluice/shared/node/until-aborted';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import { batchMessages, type RecordBatch } from '@sluice/shared/node/kafka-record-batch';
import type { DecodedMessage } from '../outbox/frame.ts';
import type { Outbox, OutboxFrame } from '../outbox/outbox.ts';
import { Resends, type ResendReason } from './resends.ts';
import { recordsIn, type ShipItem } from './ship-items.ts';

export interface MessageSender {
  send(messages: readonly DecodedMessage[]): Promise<void>;
  /** Sends prebuilt record batches as they are; without it the shipper sends their records as messages. */
  sendBatches?(batches: readonly RecordBatch[]): Promise<void>;
  close(): Promise<void>;
}

/** What a sender tells the shipper while a `send` is pending. */
export interface SenderEvents {
  /** The sender is retrying a request by itself (`attempt` from 1), e.g. the broker is unreachable or an answer was lost. */
  onRetry: (error: Error, attempt: number) => void;
}

export interface ShipperOptions {
  outbox: Outbox;
  createSender: (events: SenderEvents) => MessageSender;
  batchSize: number;
  lingerMs: number;
  maxBatchBytes: number;
  log: Logger;
  /** Called after each acknowledged batch (metrics). */
  onShipped?: (items: readonly ShipItem[]) => void;
  /** Called when records are handed to a producer again (metrics); see resends.ts. */
  onResent?: (items: readonly ShipItem[], reason: ResendReason) => void;
  /** Backoff bounds; tests shorten them. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Batches sent concurrently (default 4). */
  maxInFlight?: number;
  /** Consecutive rejected sends after which the producer is recreated. */
  recreateAfterFailures?: number;
  /** Pause before retrying the delete of acknowledged frames that failed (a full disk). */
  acknowledgeRetryMs?: number;
  /** Time for the linger and the drain on stop (tests drive it with a manual clock). */
  clock?: Clock;
}

/** Whether a batch read from the outbox has reached either of its bounds. */
function isFull(batch: readonly OutboxFrame[], maxRecords: number, maxBytes: number): boolean {
  let records = 0;
  let bytes = 0;
  for (const f of batch) {
    records += f.records;
    bytes += f.bytes;
  }
  return records >= maxRecords || bytes >= maxBytes;
}

/** How often stop() looks whether the outbox has drained. */
const DRAIN_CHECK_MS = 50;

export interface ShipperStatus {
  state: 'idle' | 'sending' | 'backoff' | 'stopped';
  shipped: number;
  batches: number;
  /** Records handed to a producer again under a new sequence (the topic may hold them twice). */
  resent: number;
  consecutiveFailures: number;
  lastError?: { at: string; message: string };
  lastAckAt?: string;
}

export class Shipper {
  readonly #options: ShipperOptions;
  readonly #clock: Clock;
  readonly #abort = new AbortController();
  #sender: MessageSender | undefined;
  #loop: Promise<void> | undefined;
  #status: ShipperStatus = { state: 'idle', shipped: 0, batches: 0, resent: 0, consecutiveFailures: 0 };
  #resends: Resends | undefined;
  /** Sends rejected in a row: the producer is recreated every `recreateAfterFailures` of them. */
  #rejected = 0;
  /** Frames the broker acknowledged whose delete failed; deleted later, never sent again by this run. */
  readonly #undeleted: OutboxFrame[][] = [];
  /** A first retry is routine (a partition leader moved, a new topic is being created); more mean trouble. */
  readonly #events: SenderEvents = {
    onRetry: (error, attempt) => {
      if (attempt > 1) this.#failed(error);
    },
  };

  constructor(options: ShipperOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      if (!this.#abort.signal.aborted) this.#options.log.error({ err: error }, 'shipper stopped unexpectedly');
    });
  }

  status(): ShipperStatus {
    return { ...this.#status, resent: this.#resends?.total ?? 0 };
  }

  /** Waits up to `drainTimeoutMs` for the outbox to empty, then stops sending and closes the producer. */
  async stop(drainTimeoutMs = 0): Promise<void> {
    const clock = this.#clock;
    const deadline = clock.now() + drainTimeoutMs;
    while (this.#loop && this.#options.outbox.stats().rows > 0 && clock.now() < deadline && this.#status.state !== 'backoff') {
      await clock.sleep(DRAIN_CHECK_MS);
    }
    this.#abort.abort(new Error('shipper stopped'));
    await this.#loop;
    this.#status.state = 'stopped';
    this.#resends?.settle();
    await this.#closeSender();
  }

  /**
   * Up to `maxInFlight` batches are sent at once (disjoint seq ranges read past a cursor), and none is added
   * while a send is failing; each retries on its own and deletes exactly its rows when acknowledged. Order
   * across batches is therefore not strict, which is fine: records are keyed and deduplicated by id
   * downstream.
   */
  async #run(): Promise<void> {
    const { outbox, batchSize, lingerMs, maxBatchBytes } = this.#options;
    const maxInFlight = this.#options.maxInFlight ?? 4;
    const signal = this.#abort.signal;
    const inFlight = new Set<Promise<void>>();
    let cursor = 0;
    const resends = (this.#resends = new Resends(outbox, this.#options.log, this.#options.onResent));
    try {
      while (!signal.aborted) {
        // While sends are failing, no new batch gets producer sequence numbers: requests queued behind a
        // failing one could only reach the broker out of order, and each would cost a new producer id.
        if (inFlight.size >= maxInFlight || (inFlight.size > 0 && this.#status.consecutiveFailures > 0)) {
          await Promise.race(inFlight);
          continue;
        }
        if (inFlight.size === 0) this.#status.state = this.#status.consecutiveFailures > 0 ? 'backoff' : 'idle';
        const more = outbox.work(signal, cursor);
        await (inFlight.size > 0 ? Promise.race([more, ...inFlight]) : more);
        if (signal.aborted || outbox.closed) return;
        if (inFlight.size > 0 && this.#status.consecutiveFailures > 0) continue;
        let batch: OutboxFrame[] = outbox.read(cursor, batchSize, maxBatchBytes);
        if (batch.length === 0) continue;
        if (lingerMs > 0 && inFlight.size === 0 && !isFull(batch, batchSize, maxBatchBytes)) {
          // A short wait fills the batch when records trickle in; under load batches are full (by records or
          // by bytes: 4 MiB of file envelopes is ~7k records) and never wait.
          await this.#clock.sleep(lingerMs, { signal }).catch(() => undefined);
          if (signal.aborted) return;
          batch = outbox.read(cursor, batchSize, maxBatchBytes);
        }
        cursor = batch[batch.length - 1]!.seq;
        if (this.#status.state === 'idle') this.#status.state = 'sending';
        const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((f) => f.messages);
        const batches = batch.flatMap((f) => f.batches ?? []);
        resends.sending(batch);
        const sending: Promise<void> = this.#sendAll(messages, batches, signal).then(() => {
          inFlight.delete(sending);
          if (signal.aborted || outbox.closed) return;
          this.#acknowledge(batch);
          const items: ShipItem[] = batches.length === 0 ? messages : [...messages, ...batches];
          this.#status.shipped += recordsIn(items);
          this.#status.batches += 1;
          this.#status.lastAckAt = new Date().toISOString();
          this.#options.onShipped?.(items);
        });
        inFlight.add(sending);
      }
    } finally {
      await Promise.allSettled(inFlight);
    }
  }

  /**
   * Sends in requests of at most maxBatchBytes (a frame may be larger), all issued at once and in order, so
   * the producer keeps their order on each partition as it does across batches. Keyed messages (partition
   * keys, blob chunks) may all hash to one partition, whose batch the broker limits to ~1 MiB: at most
   * PARTITION_BATCH_BYTES of them go in one request, so that the broker does not refuse it.
   */
  async #sendAll(messages: readonly DecodedMessage[], batches: readonly RecordBatch[], signal: AbortSignal): Promise<void> {
    // Each prebuilt batch is one request to one partition, retried on its own like a request of messages.
    const sent = batches.map((b) => this.#send([b], signal));
    if (messages.length === 0) {
      await Promise.all(sent);
      return;
    }
    const limit = this.#options.maxBatchBytes;
    const requests: Array<readonly DecodedMessage[]> = [];
    let start = 0;
    let bytes = 0;
    let keyedBytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      const size = m.value.length + m.key.length;
      const keyed = m.spread ? 0 : size;
      if (i > start && (bytes + size > limit || keyedBytes + keyed > PARTITION_BATCH_BYTES)) {
        requests.push(messages.slice(start, i));
        start = i;
        bytes = 0;
        keyedBytes = 0;
      }
      bytes += size;
      keyedBytes += keyed;
    }
    requests.push(start === 0 ? messages : messages.slice(start));
    await Promise.all([...sent, ...requests.map((request) => this.#send(request, signal))]);
  }

  async #send(batch: readonly ShipItem[], signal: AbortSignal): Promise<void> {
    const recreateAfter = this.#options.recreateAfterFailures ?? 5;
    let attempts = 0;
    await withRetry(
      async () => {
        try {
          if (attempts++ > 0) this.#resends?.retrying(batch);
          this.#sender ??= this.#options.createSender(this.#events);
          await untilAborted(sendItems(this.#sender, batch), signal);
          this.#rejected = 0;
          if (this.#status.consecutiveFailures > 0) {
            this.#options.log.info({ failures: this.#status.consecutiveFailures }, 'kafka reachable again, shipping resumed');
            this.#resends?.settle();
            if (this.#status.state === 'backoff') this.#status.state = 'sending';
          }
          this.#status.consecutiveFailures = 0;
        } catch (error) {
          if (signal.aborted) throw error;
          this.#failed(error as Error);
          this.#rejected += 1;
          if (this.#rejected % recreateAfter === 0) await this.#closeSender();
          throw new RetryableError((error as Error).message, { cause: error });
        }
      },
      {
        retries: Infinity,
        minDelayMs: this.#options.minRetryDelayMs ?? 250,
        maxDelayMs: this.#options.maxRetryDelayMs ?? 10_000,
        signal,
      },
    ).catch((error: unknown) => {
      if (!signal.aborted) throw error;
    });
  }

  /** A failed attempt, the sender's own retry or a rejected send: the outbox keeps the records meanwhile. */
  #failed(error: Error): void {
    if (this.#abort.signal.aborted) return;
    this.#status.consecutiveFailures += 1;
    this.#status.state = 'backoff';
    this.#status.lastError = { at: new Date().toISOString(), message: error.message };
    if (this.#status.consecutiveFailures === 1) {
      this.#options.log.warn({ err: error, rows: this.#options.outbox.stats().rows }, 'kafka send failed; backing off, the outbox keeps the records');
    }
  }

  /**
   * Deletes acknowledged frames. When the delete fails (SQLite needs room to write even a delete; a full disk
   * refuses it) the frames are kept aside and deleted later: this run's cursor is past them, so they are not
   * sent again; a restart before the delete succeeds re-sends them, counted as such (resends.ts).
   */
  #acknowledge(batch: OutboxFrame[]): void {
    const { outbox, log } = this.#options;
    const retryMs = this.#options.acknowledgeRetryMs ?? 1_000;
    const failedBefore = this.#undeleted.length > 0;
    try {
      outbox.acknowledge(batch);
    } catch (error) {
      this.#undeleted.push(batch);
      if (failedBefore) return;
      log.warn({ err: error }, 'could not delete acknowledged records from the outbox; retrying, they are not sent again');
      const retry = (): void => {
        if (outbox.closed) return;
        while (this.#undeleted.length > 0) {
          try {
            outbox.acknowledge(this.#undeleted[0]!);
          } catch {
            setTimeout(retry, retryMs).unref();
            return;
          }
          this.#undeleted.shift();
        }
        log.info('acknowledged records deleted from the outbox');
      };
      setTimeout(retry, retryMs).unref();
    }
  }

  async #closeSender(): Promise<void> {
    const sender = this.#sender;
    this.#sender = undefined;
    await sender?.close().catch((error: unknown) => this.#options.log.debug({ err: error }, 'closing the kafka producer failed'));
  }
}


/** Items of one request: all messages, or one prebuilt batch (sent as messages by a sender without sendBatches). */
function sendItems(sender: MessageSender, items: readonly ShipItem[]): Promise<void> {
  const first = items[0];
  if (first === undefined || !('records' in first)) return sender.send(items as readonly DecodedMessage[]);
  const batches = items as readonly RecordBatch[];
  if (sender.sendBatches) return sender.sendBatches(batches);
  return sender.send(batches.flatMap(batchMessages));
}
