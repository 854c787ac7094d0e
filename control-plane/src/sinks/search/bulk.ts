/**
 * The bulk API's NDJSON request and per-item response handling
 * (https://www.elastic.co/guide/en/elasticsearch/reference/8.19/docs-bulk.html; OpenSearch speaks the same).
 *
 * `index` rather than `create`: indexing a document under the same `_id` again leaves the same document, so
 * a replayed batch is harmless and needs no special case, whereas `create` turns every replayed record into
 * a 409 to recognise and ignore. `index` also lets a corrected record replayed from the DLQ overwrite.
 */
import type { Envelope } from '@sluice/shared/envelope';

export interface BulkItem {
  id: string;
  index: string;
  /** The action line and the document line, each ending in a newline. */
  lines: string;
}

export function searchDocument(envelope: Envelope): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    '@timestamp': envelope.eventTime,
    ingestTime: envelope.ingestTime,
    id: envelope.id,
    dataset: envelope.dataset,
    agentId: envelope.agentId,
    source: envelope.source,
    payload: envelope.payload,
  };
  if (envelope.schemaVersion !== undefined) doc.schemaVersion = envelope.schemaVersion;
  if (envelope.blob !== undefined) doc.blob = envelope.blob;
  if (envelope.parseError !== undefined) doc.parseError = envelope.parseError;
  return doc;
}

export function bulkItem(envelope: Envelope, index: string): BulkItem {
  return {
    id: envelope.id,
    index,
    lines: `${JSON.stringify({ index: { _index: index, _id: envelope.id } })}\n${JSON.stringify(searchDocument(envelope))}\n`,
  };
}

/** Groups items into request bodies of at most `maxBytes` (a single larger item still goes alone). */
export function bulkBodies(items: readonly BulkItem[], maxBytes: number): BulkItem[][] {
  const bodies: BulkItem[][] = [];
  let current: BulkItem[] = [];
  let size = 0;
  for (const item of items) {
    const bytes = Buffer.byteLength(item.lines);
    if (current.length > 0 && size + bytes > maxBytes) {
      bodies.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += bytes;
  }
  if (current.length > 0) bodies.push(current);
  return bodies;
}

interface BulkResponseItem {
  status?: number;
  error?: { type?: string; reason?: string; caused_by?: { type?: string; reason?: string } };
}

export interface BulkResponse {
  errors?: boolean;
  items?: Array<Record<string, BulkResponseItem | undefined>>;
}

export type ItemVerdict = { kind: 'ok' } | { kind: 'retry'; reason: string } | { kind: 'reject'; reason: string };

/**
 * One bulk item's fate: pushed back (429 / rejected execution: the node's write queue is full) and server
 * trouble (5xx) are tried again; what the index refuses for the document itself (mapping and parsing errors,
 * 4xx) goes to the DLQ with the engine's reason.
 */
export function classifyItem(item: BulkResponseItem | undefined): ItemVerdict {
  if (item === undefined) return { kind: 'retry', reason: 'bulk response lacks this item' };
  const status = item.status ?? 0;
  if (status >= 200 && status < 300) return { kind: 'ok' };
  const type = item.error?.type ?? '';
  const cause = item.error?.caused_by;
  const reason = `${type || `HTTP ${status}`}: ${item.error?.reason ?? 'no reason given'}${cause?.reason ? ` (caused by ${cause.type ?? 'error'}: ${cause.reason})` : ''}`;
  if (status === 429 || /rejected_execution/.test(type)) return { kind: 'retry', reason };
  if (status >= 500 || status === 0) return { kind: 'retry', reason };
  return { kind: 'reject', reason };
}

export interface BulkClassification {
  retry: BulkItem[];
  rejected: Array<{ id: string; reason: string }>;
  /** A reason among the retried items, for the outcome if they run out of attempts. */
  retryReason?: string;
}

export function classifyBulkResponse(sent: readonly BulkItem[], response: BulkResponse): BulkClassification {
  const result: BulkClassification = { retry: [], rejected: [] };
  if (response.errors === false) return result;
  const items = response.items ?? [];
  sent.forEach((item, i) => {
    const entry = items[i];
    // Each response item is keyed by its action (`index`, `create`...): take whichever is there.
    const verdict = classifyItem(entry === undefined ? undefined : Object.values(entry)[0]);
    if (verdict.kind === 'retry') {
      result.retry.push(item);
      result.retryReason ??= verdict.reason;
    } else if (verdict.kind === 'reject') {
      result.rejected.push({ id: item.id, reason: `search: ${item.index}: ${verdict.reason}` });
    }
  });
  return result;
}
