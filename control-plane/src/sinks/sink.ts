import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import type { Outcome } from '@sluice/shared/outcome';

/** One record as a sink receives it: the validated envelope and where it sat in Kafka. */
export interface SinkRecord {
  envelope: Envelope;
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * A batch of one dataset's records from one topic partition, in offset order. Object keys and other
 * replay-stable names derive from (topic, partition, firstOffset, lastOffset).
 */
export interface SinkBatch {
  dataset: DatasetVersion;
  topic: string;
  partition: number;
  firstOffset: bigint;
  lastOffset: bigint;
  records: readonly SinkRecord[];
}

/**
 * `ok` may still reject single records the store refused for what they are (a mapping conflict, say):
 * those go to the DLQ with the reason, the rest of the batch counts as written.
 */
export type SinkWriteResult = Outcome & { readonly rejected?: ReadonlyArray<{ id: string; reason: string }> };

/**
 * A sink (CONVENTIONS §1): write returns an outcome instead of throwing for expected failures; a write that
 * resolved `ok` is durable in the store. Writing the same batch twice leaves the store as after one write.
 */
export interface Sink {
  readonly name: 'postgres' | 'search' | 'object-store' | (string & {});
  /** Creates or evolves what the dataset needs (table, index template, bucket). Idempotent. */
  prepare(dataset: DatasetVersion): Promise<Outcome>;
  write(batch: SinkBatch): Promise<SinkWriteResult>;
  flush(): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
}
