/**
 * The re-sends the shipper makes. The producer retries a request by itself with the same producer id and
 * sequence, which the broker recognises when it had already written the batch (shared/node/kafka.ts); a
 * re-send is the shipper handing records to a producer again, under a new sequence, so the broker cannot
 * recognise them and the topic may hold them twice (the stores still keep each record once, by id). Two
 * causes:
 *
 *   failed-send  a send rejected (the producer gave up on a batch it had sent without learning its fate),
 *                and the shipper sends the batch again;
 *   restart      frames the previous run had handed to a producer but saw no acknowledgement for (crash,
 *                stop during an outage, a delete that failed on a full disk) are sent by this run.
 *
 * For the second, the highest frame seq handed to a producer is stored in the outbox before the send (seqs
 * only grow), so the next run counts the frames of its backlog at or below it.
 */
import type { Logger } from '@sluice/shared/node/logger';
import type { Outbox, OutboxFrame } from '../outbox/outbox.ts';
import { recordsIn, type ShipItem } from './ship-items.ts';

export type ResendReason = 'failed-send' | 'restart';

/** A checkpoint of the shipper's own: source ids must start with a letter or digit, so this one cannot clash. */
const STATE_SOURCE = '~shipper';
const SENT_THROUGH = 'sent-through';

export class Resends {
  readonly #outbox: Outbox;
  readonly #log: Logger;
  readonly #onResent: ((items: readonly ShipItem[], reason: ResendReason) => void) | undefined;
  /** Frames up to this seq were handed to a producer by the previous run. */
  readonly #previousRun: number;
  #sentThrough: number;
  #episode = 0;
  #total = 0;

  constructor(outbox: Outbox, log: Logger, onResent?: (items: readonly ShipItem[], reason: ResendReason) => void) {
    this.#outbox = outbox;
    this.#log = log;
    this.#onResent = onResent;
    const stored = Number(outbox.checkpoint(STATE_SOURCE, SENT_THROUGH) ?? 0);
    this.#previousRun = Number.isSafeInteger(stored) && stored > 0 ? stored : 0;
    this.#sentThrough = this.#previousRun;
    const backlog = this.#previousRun > 0 ? outbox.recordsThrough(this.#previousRun) : 0;
    if (backlog > 0) {
      this.#log.warn(
        { records: backlog },
        're-sending records a previous run had sent without an acknowledgement; the topic may hold some of them twice, the stores keep each record once by id',
      );
    }
  }

  /** Records re-sent since the shipper started. */
  get total(): number {
    return this.#total;
  }

  /** Before frames go to a producer for the first time in this run. */
  sending(frames: readonly OutboxFrame[]): void {
    const last = frames[frames.length - 1]!.seq;
    if (last > this.#sentThrough) {
      this.#sentThrough = last;
      try {
        this.#outbox.commit([], [{ sourceId: STATE_SOURCE, key: SENT_THROUGH, value: String(last) }]);
      } catch (error) {
        // Only the count of a later restart's re-sends depends on it; shipping must not wait for the disk.
        this.#log.debug({ err: error }, 'could not record the frames handed to the producer');
      }
    }
    if (frames[0]!.seq > this.#previousRun) return;
    const again = frames.filter((f) => f.seq <= this.#previousRun);
    this.#count(again.flatMap((f): ShipItem[] => (f.batches === undefined ? f.messages : [...f.messages, ...f.batches])), 'restart');
  }

  /** A batch handed to the producer again because its previous send rejected. */
  retrying(items: readonly ShipItem[]): void {
    this.#episode += recordsIn(items);
    this.#count(items, 'failed-send');
  }

  /** Says once per failure episode (when shipping resumes, or the shipper stops) how many records it re-sent. */
  settle(): void {
    if (this.#episode === 0) return;
    this.#log.warn(
      { records: this.#episode, total: this.#total },
      're-sent records whose send had failed without a clear answer; the topic may hold some of them twice, the stores keep each record once by id',
    );
    this.#episode = 0;
  }

  #count(items: readonly ShipItem[], reason: ResendReason): void {
    if (items.length === 0) return;
    this.#total += recordsIn(items);
    this.#onResent?.(items, reason);
  }
}
