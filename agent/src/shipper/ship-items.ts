import type { RecordBatch } from '@sluice/shared/node/kafka-record-batch';
import type { DecodedMessage } from '../outbox/frame.ts';

/**
 * What the shipper hands to a producer: single messages, or record batches built when the outbox stored them.
 * Shared by the shipper and its re-send accounting (resends.ts).
 */
export type ShipItem = DecodedMessage | RecordBatch;

/** Records in these items (a record batch holds many). */
export function recordsIn(items: readonly ShipItem[]): number {
  let n = 0;
  for (const item of items) n += 'records' in item ? item.records : 1;
  return n;
}
