/**
 * Whole-file blobs (claim check): chunk messages are stored in the object store as they come, and the
 * closing envelope (the record whose `blob` describes the file) completes the blob before the record goes
 * to its sinks. Both steps are idempotent, so a redelivered batch is harmless.
 *
 * The steps of one partition run in offset order, after the steps the earlier batches had in that
 * partition (a closing envelope must find the chunks before it; they sit in the same partition). They run
 * with the partition's share, not during the intake every dataset waits for, so an object store that is
 * down holds only the partitions that carry blobs, and the consumer can pause those like any stalled sink.
 *
 *   ok ─► next step          failed ─► DLQ (a failed completion takes its record out of the sinks' batch)
 *   retryable ─► again, for as long as it lasts
 *   unclassified ─► again within the budget (attempts and time, as for sinks), then like failed
 */
import type { DatasetVersion } from '@sluice/shared/dataset';
import { KAFKA_HEADERS, type Envelope } from '@sluice/shared/envelope';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import type { Logger } from '@sluice/shared/node/logger';
import { retryOutcome, type Backoff, type UnclassifiedBudget } from '@sluice/shared/node/retry';
import { failed, unclassified, type Outcome } from '@sluice/shared/outcome';
import type { DlqEntry } from './dead-letters.ts';
import { dlqEntry, type Stall } from './sink-writer.ts';

/** One chunk of a claim-checked blob (content-type application/vnd.sluice.blob-chunk). */
export interface BlobChunk {
  sha256: string;
  index: number;
  count: number;
  bytes: Uint8Array;
}

/** The object store's blob path (sinks/object-store BlobAssembler satisfies it). */
export interface BlobStore {
  writeChunk(chunk: BlobChunk): Promise<Outcome>;
  complete(envelope: Pick<Envelope, 'id' | 'blob'>): Promise<Outcome>;
}

export type BlobStep =
  | { kind: 'chunk'; topic: string; partition: number; message: IncomingMessage }
  | { kind: 'complete'; topic: string; partition: number; message: IncomingMessage; envelope: Envelope; dataset: DatasetVersion };

export interface BlobStepsOptions {
  blobs: BlobStore | undefined;
  logger: Logger;
  /** Waits between attempts; aborting its signal ends the steps (shutdown). */
  backoff: Backoff;
  unclassified?: UnclassifiedBudget;
}

/** What a partition's steps left to do: entries to dead-letter, and the records whose blob failed. */
export interface BlobResult {
  dead: DlqEntry[];
  failedIds: Set<string>;
}

export class BlobSteps {
  readonly #o: BlobStepsOptions;
  /** Per partition, the steps of the latest batch that had some (settled, never rejected). */
  readonly #chains = new Map<string, Promise<unknown>>();

  constructor(options: BlobStepsOptions) {
    this.#o = options;
  }

  /** Runs one partition's steps after that partition's earlier ones; rejects only on shutdown. */
  run(partitionKey: string, steps: readonly BlobStep[], onStall: (stall: Stall) => void): Promise<BlobResult> {
    const previous = this.#chains.get(partitionKey) ?? Promise.resolve();
    const mine = previous.then(() => this.#runInOrder(steps, onStall));
    const settled = mine.catch(() => undefined);
    this.#chains.set(partitionKey, settled);
    void settled.then(() => {
      if (this.#chains.get(partitionKey) === settled) this.#chains.delete(partitionKey);
    });
    return mine;
  }

  async #runInOrder(steps: readonly BlobStep[], onStall: (stall: Stall) => void): Promise<BlobResult> {
    const result: BlobResult = { dead: [], failedIds: new Set() };
    for (const step of steps) {
      if (step.kind === 'chunk') {
        const problem = await this.#writeChunk(step.message, onStall);
        if (problem) result.dead.push(dlqEntry(step.message, problem, step.message.headers[KAFKA_HEADERS.dataset]));
        continue;
      }
      const problem = await this.#complete(step.envelope, step.dataset.spec.name, onStall);
      if (problem) {
        result.dead.push(dlqEntry(step.message, problem, step.dataset.spec.name, step.envelope.id, step.dataset.version, step.envelope));
        result.failedIds.add(step.envelope.id);
      }
    }
    return result;
  }

  async #writeChunk(message: IncomingMessage, onStall: (stall: Stall) => void): Promise<string | undefined> {
    const h = message.headers;
    const sha256 = h[KAFKA_HEADERS.blobSha256];
    const index = Number(h[KAFKA_HEADERS.blobChunk]);
    const count = Number(h[KAFKA_HEADERS.blobChunks]);
    if (!sha256 || !/^[0-9a-f]{64}$/.test(sha256) || !Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) {
      return 'blob chunk without valid blob-sha256 / blob-chunk / blob-chunks headers';
    }
    const blobs = this.#o.blobs;
    if (!blobs) return 'blob chunk received, but this consumer has no object store for blobs';
    const dataset = h[KAFKA_HEADERS.dataset] ?? '(unknown)';
    const outcome = await this.#untilAnswered(dataset, onStall, () => blobs.writeChunk({ sha256, index, count, bytes: message.value }));
    return outcome.kind === 'ok' ? undefined : `blob chunk refused by the object store: ${outcome.reason}`;
  }

  async #complete(envelope: Envelope, dataset: string, onStall: (stall: Stall) => void): Promise<string | undefined> {
    const blobs = this.#o.blobs;
    if (!blobs) return 'record carries a blob, but this consumer has no object store for blobs';
    const outcome = await this.#untilAnswered(dataset, onStall, () => blobs.complete(envelope));
    return outcome.kind === 'ok' ? undefined : `blob could not be assembled: ${outcome.reason}`;
  }

  /** Retries until ok or failed (unclassified: within the budget, then reported as failed). */
  #untilAnswered(dataset: string, onStall: (stall: Stall) => void, call: () => Promise<Outcome>): Promise<Outcome> {
    let stalled = false;
    return retryOutcome(
      async () => {
        let result: Outcome;
        try {
          result = await call();
        } catch (error) {
          result = unclassified(error instanceof Error ? error.message : String(error));
        }
        if ((result.kind === 'retryable' || result.kind === 'unclassified') && !stalled) {
          stalled = true;
          onStall({ dataset, sink: 'blobs', reason: result.reason });
        }
        return result;
      },
      {
        ...this.#o.backoff,
        ...(this.#o.unclassified ? { unclassified: this.#o.unclassified } : {}),
        onRetry: (outcome, attempt, delayMs) => this.#o.logger.debug({ dataset, attempt, delayMs, err: outcome.reason }, 'waiting to retry the blob store'),
        onGiveUp: (last, spent) => failed(`${last.reason} (unclassified, ${spent.attempts} attempts over ${Math.round(spent.elapsedMs / 1000)} s)`),
      },
    );
  }
}
