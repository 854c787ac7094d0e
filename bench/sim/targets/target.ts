/**
 * Where a run's events go. A target sends one batch and answers how many the receiver took; what the receiver
 * will never take (a 4xx other than 429: bad credentials, no such dataset, a refused body) is thrown as a
 * `PermanentSendError` that ends the run; what may pass (429, 503, a lost connection) is retried inside the
 * target with the one retry wrapper, honouring Retry-After.
 */
import type { SimEvent } from '../event-stream.ts';

export type TargetName = 'stdout' | 'agent' | 'ingest' | 'kafka';

export interface SendResult {
  accepted: number;
  /** Items the receiver refused one by one (schema, parse errors), with the first reasons. */
  rejected: number;
  reasons: string[];
}

export interface SimTarget {
  readonly name: TargetName;
  /** `batchKey` is derived from the run and the batch's first sequence: a retried batch keeps its record ids. */
  send(events: readonly SimEvent[], batchKey: string): Promise<SendResult>;
  close(): Promise<void>;
}

export class PermanentSendError extends Error {
  override readonly name = 'PermanentSendError';
}
