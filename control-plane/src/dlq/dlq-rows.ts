/** The `dlq` and `dlq_replays` rows as the API shows them, and the original message as it travelled. */
import type { DlqEntryView, DlqReplayView } from '@sluice/shared/api/dlq';
import type { IncomingMessage } from '@sluice/shared/node/kafka';
import { DLQ_HEADERS } from '../consumer/dead-letters.ts';
import { failurePaths } from './failure-paths.ts';

export interface DlqRow {
  id: string;
  dataset: string | null;
  record_id: string | null;
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  reason_kind: string;
  schema_version: number | null;
  original: Buffer;
  headers: Record<string, string>;
  created_at: Date;
  replayed_at: Date | null;
}

export interface ReplayRow {
  replayed_at: Date;
  key_id: string;
  key_name: string;
  forced: boolean;
  topic: string;
  partition: number;
  offset: string;
}

/** The original text is shown up to this much; the bytes are always there whole (base64). */
const MAX_TEXT_CHARS = 64 * 1024;

export function entryView(row: DlqRow): DlqEntryView {
  const text = row.original.toString('utf8');
  // Valid UTF-8 round-trips; poison bytes are shown base64 only.
  const isText = Buffer.from(text, 'utf8').equals(row.original);
  return {
    id: row.id,
    dataset: row.dataset,
    recordId: row.record_id,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
    reason: row.reason,
    reasonKind: row.reason_kind as DlqEntryView['reasonKind'],
    paths: failurePaths(row.reason),
    schemaVersion: row.schema_version,
    headers: row.headers,
    size: row.original.length,
    originalBase64: row.original.toString('base64'),
    ...(isText ? { originalText: text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS)}…` : text } : {}),
    createdAt: row.created_at.toISOString(),
    replayedAt: row.replayed_at?.toISOString() ?? null,
  };
}

export function replayView(row: ReplayRow): DlqReplayView {
  return {
    replayedAt: row.replayed_at.toISOString(),
    keyId: row.key_id,
    keyName: row.key_name,
    forced: row.forced,
    topic: row.topic,
    partition: row.partition,
    offset: row.offset,
  };
}

const DLQ_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS));

type Original = Pick<DlqRow, 'topic' | 'partition' | 'offset' | 'record_id' | 'original' | 'headers'>;

/** The record id is the key it travelled under (an entry that never decoded has none: its position stands in). */
export function replayKey(row: Original): string {
  return row.record_id ?? `${row.topic}:${row.partition}:${row.offset}`;
}

/** Its own headers, without the dlq-* ones. */
export function originalHeaders(row: Original): Record<string, string> {
  return Object.fromEntries(Object.entries(row.headers).filter(([name]) => !DLQ_HEADER_NAMES.has(name)));
}

/** The message as it was before it was dead-lettered, as the consumer would fetch it again. */
export function originalMessage(row: Original): IncomingMessage {
  return { topic: row.topic, partition: row.partition, offset: BigInt(row.offset), key: replayKey(row), value: row.original, headers: originalHeaders(row), timestamp: 0n };
}
