/**
 * The dead-letter queue: Kafka topic `sluice.dlq` (original bytes, headers with the reason) and the
 * PostgreSQL `dlq` table. A write resolves only when both hold the entries, so the consumer may commit.
 * The table write is idempotent on (topic, partition, offset): a redelivered message dead-letters once.
 * Each entry also gets a reason kind (`reasonKind`), so an operator can count entries by what went wrong
 * (`GET /api/v1/dlq/counts`) although every reason names its record.
 */
import type pg from 'pg';
import type { ReasonKind } from '@sluice/shared/api/dlq';
import { DLQ_TOPIC } from '@sluice/shared/envelope';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';

export interface DlqEntry {
  dataset: string | undefined;
  recordId: string | undefined;
  topic: string;
  partition: number;
  offset: bigint;
  reason: string;
  /** The class of `reason`; when left out, `reasonKind(reason)` decides. */
  reasonKind?: ReasonKind;
  schemaVersion: number | undefined;
  original: Buffer;
  headers: Record<string, string>;
  /** Whose record it is, when its envelope decoded: the ledger counts dead-lettered records by agent and ingest minute. */
  origin?: RecordOrigin | undefined;
}

export interface RecordOrigin {
  agentId: string;
  ingestTime: string;
}

export interface DeadLetters {
  /** Throws when either store is unreachable; the caller retries. */
  write(entries: readonly DlqEntry[]): Promise<void>;
}

/**
 * What went wrong, as a stable class. The prefixes are the reasons the consumer writes (record-intake.ts,
 * sink-writer.ts, blob-steps.ts); the migration that added reason_kind classifies older entries by the same
 * prefixes.
 */
const REASON_PREFIXES = [
  ['unknown dataset ', 'unknown_dataset'],
  ['could not be parsed at the source', 'parse'],
  ['does not match schema version ', 'schema'],
  ['not a Sluice envelope', 'not_envelope'],
  ['refused before any store', 'unstorable'],
  ['sink ', 'sink'],
  ['blob ', 'blob'],
  ['record carries a blob', 'blob'],
] as const;

// The kinds are part of the REST contract (shared/src/api/dlq.ts); this is where a reason gets its kind.
export type { ReasonKind };

export function reasonKind(reason: string): ReasonKind {
  if (/^record is \d+ bytes, larger than the limit/.test(reason)) return 'size';
  return REASON_PREFIXES.find(([prefix]) => reason.startsWith(prefix))?.[1] ?? 'other';
}

export const DLQ_HEADERS = {
  reason: 'dlq-reason',
  reasonKind: 'dlq-reason-kind',
  topic: 'dlq-topic',
  partition: 'dlq-partition',
  offset: 'dlq-offset',
  schemaVersion: 'dlq-schema-version',
} as const;

/** Header values are single lines of bounded size; the table keeps the full reason. */
const MAX_HEADER_REASON = 4_000;

export function toDlqMessage(entry: DlqEntry, dlqTopic: string = DLQ_TOPIC): OutgoingMessage {
  return {
    topic: dlqTopic,
    key: `${entry.topic}:${entry.partition}:${entry.offset}`,
    value: entry.original,
    headers: {
      ...entry.headers,
      [DLQ_HEADERS.reason]: storableText(entry.reason, MAX_HEADER_REASON),
      [DLQ_HEADERS.reasonKind]: entry.reasonKind ?? reasonKind(entry.reason),
      [DLQ_HEADERS.topic]: entry.topic,
      [DLQ_HEADERS.partition]: String(entry.partition),
      [DLQ_HEADERS.offset]: String(entry.offset),
      ...(entry.schemaVersion === undefined ? {} : { [DLQ_HEADERS.schemaVersion]: String(entry.schemaVersion) }),
    },
  };
}

/**
 * PostgreSQL text and jsonb refuse NUL; poison input (and the parser messages quoting it) may carry it.
 * Such a refusal would stall the DLQ itself, so text is made storable; the original bytes stay exact.
 */
export function storableText(text: string, max = 8_000): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/\u0000/g, '\\u0000');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function storableHeaders(headers: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(headers).map(([k, v]) => [storableText(k, 256), storableText(v, 4_000)])));
}

/** The whole minute of the record's ingest time, or null when it is no date (the row is written all the same). */
function ingestMinute(origin: RecordOrigin | undefined): string | null {
  const ms = origin === undefined ? Number.NaN : Date.parse(origin.ingestTime);
  return Number.isNaN(ms) ? null : new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
}

export async function insertDlqRows(db: pg.Pool | pg.PoolClient, entries: readonly DlqEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO dlq (dataset, record_id, topic, partition, "offset", reason, schema_version, original, headers, reason_kind, agent_id, ingest_minute)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::int[], $8::bytea[], $9::jsonb[], $10::text[], $11::text[], $12::timestamptz[])
     ON CONFLICT ON CONSTRAINT dlq_position DO NOTHING`,
    [
      entries.map((e) => (e.dataset === undefined ? null : storableText(e.dataset, 200))),
      entries.map((e) => (e.recordId === undefined ? null : storableText(e.recordId, 1_000))),
      entries.map((e) => e.topic),
      entries.map((e) => e.partition),
      entries.map((e) => e.offset.toString()),
      entries.map((e) => storableText(e.reason)),
      entries.map((e) => e.schemaVersion ?? null),
      entries.map((e) => e.original),
      entries.map((e) => storableHeaders(e.headers)),
      entries.map((e) => e.reasonKind ?? reasonKind(e.reason)),
      entries.map((e) => (e.origin === undefined ? null : storableText(e.origin.agentId, 1_000))),
      entries.map((e) => ingestMinute(e.origin)),
    ],
  );
}

export class KafkaAndTableDeadLetters implements DeadLetters {
  readonly #send: (messages: readonly OutgoingMessage[]) => Promise<void>;
  readonly #pool: pg.Pool;
  readonly #dlqTopic: string;

  constructor(send: (messages: readonly OutgoingMessage[]) => Promise<void>, pool: pg.Pool, dlqTopic: string = DLQ_TOPIC) {
    this.#send = send;
    this.#pool = pool;
    this.#dlqTopic = dlqTopic;
  }

  async write(entries: readonly DlqEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#send(entries.map((e) => toDlqMessage(e, this.#dlqTopic)));
    await insertDlqRows(this.#pool, entries);
  }
}
