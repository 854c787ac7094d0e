/**
 * Ships the outbox to Kafka: reads whole frames from the head in seq order (batches bounded by records and
 * bytes, lingering briefly for a fuller batch), sends them through the idempotent acks=all producer in
 * requests of at most `maxBatchBytes`, and deletes the frames only after the broker acknowledged all of
 * their messages. A failed send is retried forever with jittered exponential backoff
 * while the outbox grows; every few failures the producer is recreated so a restarted broker (new producer
 * epoch, new connections) is picked up without restarting the agent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PARTITION_BATCH_BYTES } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { RetryableError, withRetry } from '@sluice/shared/node/retry';
import type { DecodedMessage } from '../outbox/frame.ts';
import type { Outbox, OutboxFrame } from '../outbox/outbox.ts';

export interface MessageSender {
  send(messages: readonly DecodedMessage[]): Promise<void>;
  close(): Promise<void>;
}

export interface ShipperOptions {
  outbox: Outbox;
  createSender: () => MessageSender;
  batchSize: number;
  lingerMs: number;
  maxBatchBytes: number;
  log: Logger;
  /** Called after each acknowledged batch (metrics). */
  onShipped?: (messages: readonly DecodedMessage[]) => void;
  /** Backoff bounds; tests shorten them. */
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Batches sent concurrently (default 4). */
  maxInFlight?: number;
  /** Consecutive failed sends after which the producer is recreated. */
  recreateAfterFailures?: number;
}

export interface ShipperStatus {
  state: 'idle' | 'sending' | 'backoff' | 'stopped';
  shipped: number;
  batches: number;
  consecutiveFailures: number;
  lastError?: { at: string; message: string };
  lastAckAt?: string;
}

export class Shipper {
  readonly #options: ShipperOptions;
  readonly #abort = new AbortController();
  #sender: MessageSender | undefined;
  #loop: Promise<void> | undefined;
  #status: ShipperStatus = { state: 'idle', shipped: 0, batches: 0, consecutiveFailures: 0 };

  constructor(options: ShipperOptions) {
    this.#options = options;
  }

  start(): void {
    this.#loop ??= this.#run().catch((error: unknown) => {
      if (!this.#abort.signal.aborted) this.#options.log.error({ err: error }, 'shipper stopped unexpectedly');
    });
  }

  status(): ShipperStatus {
    return { ...this.#status };
  }

  /** Waits up to `drainTimeoutMs` for the outbox to empty, then stops sending and closes the producer. */
  async stop(drainTimeoutMs = 0): Promise<void> {
    const deadline = Date.now() + drainTimeoutMs;
    while (this.#loop && this.#options.outbox.stats().rows > 0 && Date.now() < deadline && this.#status.state !== 'backoff') {
      await sleep(50, undefined, { ref: false });
    }
    this.#abort.abort(new Error('shipper stopped'));
    await this.#loop;
    this.#status.state = 'stopped';
    await this.#closeSender();
  }

  /**
   * Up to `maxInFlight` batches are sent at once (disjoint seq ranges read past a cursor); each retries on
   * its own and deletes exactly its rows when acknowledged. Order across batches is therefore not strict,
   * which is fine: records are keyed and deduplicated by id downstream.
   */
  async #run(): Promise<void> {
    const { outbox, batchSize, lingerMs, maxBatchBytes } = this.#options;
    const maxInFlight = this.#options.maxInFlight ?? 4;
    const signal = this.#abort.signal;
    const inFlight = new Set<Promise<void>>();
    let cursor = 0;
    try {
      while (!signal.aborted) {
        if (inFlight.size >= maxInFlight) {
          await Promise.race(inFlight);
          continue;
        }
        if (inFlight.size === 0) this.#status.state = this.#status.consecutiveFailures > 0 ? 'backoff' : 'idle';
        const more = outbox.work(signal, cursor);
        await (inFlight.size > 0 ? Promise.race([more, ...inFlight]) : more);
        if (signal.aborted || outbox.closed) return;
        let batch: OutboxFrame[] = outbox.read(cursor, batchSize, maxBatchBytes);
        if (batch.length === 0) continue;
        if (batch.reduce((n, f) => n + f.records, 0) < batchSize && lingerMs > 0 && inFlight.size === 0) {
          // A short wait fills the batch when records trickle in; under load batches are full and never wait.
          await sleep(lingerMs, undefined, { signal, ref: false }).catch(() => undefined);
          if (signal.aborted) return;
          batch = outbox.read(cursor, batchSize, maxBatchBytes);
        }
        cursor = batch[batch.length - 1]!.seq;
        if (this.#status.state === 'idle') this.#status.state = 'sending';
        const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((f) => f.messages);
        const sending: Promise<void> = this.#sendAll(messages, signal).then(() => {
          inFlight.delete(sending);
          if (signal.aborted || outbox.closed) return;
          outbox.acknowledge(batch);
          this.#status.shipped += messages.length;
          this.#status.batches += 1;
          this.#status.lastAckAt = new Date().toISOString();
          this.#options.onShipped?.(messages);
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
  async #sendAll(messages: readonly DecodedMessage[], signal: AbortSignal): Promise<void> {
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
    await Promise.all(requests.map((request) => this.#send(request, signal)));
  }

  async #send(batch: readonly DecodedMessage[], signal: AbortSignal): Promise<void> {
    const recreateAfter = this.#options.recreateAfterFailures ?? 5;
    await withRetry(
      async () => {
        try {
          this.#sender ??= this.#options.createSender();
          await untilAborted(this.#sender.send(batch), signal);
          if (this.#status.consecutiveFailures > 0) {
            this.#options.log.info({ failures: this.#status.consecutiveFailures }, 'kafka reachable again, shipping resumed');
          }
          this.#status.consecutiveFailures = 0;
        } catch (error) {
          if (signal.aborted) throw error;
          this.#status.consecutiveFailures += 1;
          this.#status.state = 'backoff';
          this.#status.lastError = { at: new Date().toISOString(), message: (error as Error).message };
          if (this.#status.consecutiveFailures === 1) {
            this.#options.log.warn({ err: error, rows: this.#options.outbox.stats().rows }, 'kafka send failed; backing off, the outbox keeps the records');
          }
          if (this.#status.consecutiveFailures % recreateAfter === 0) await this.#closeSender();
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

  async #closeSender(): Promise<void> {
    const sender = this.#sender;
    this.#sender = undefined;
    await sender?.close().catch((error: unknown) => this.#options.log.debug({ err: error }, 'closing the kafka producer failed'));
  }
}

/** Lets SIGTERM stop waiting for a send that hangs on a dead broker; the rows stay in the outbox. */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
