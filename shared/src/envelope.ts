import type { FromSchema } from 'json-schema-to-ts';

/**
 * The record envelope: one contract from the agent through Kafka to every store (see docs/architecture.md).
 * `id` is derived from where the record came from (see record-id.ts), never random, so every hop may retry
 * and the stores still hold each record once.
 */
export const envelopeSchema = {
  $id: 'https://sluice.dev/schemas/envelope.json',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'dataset', 'agentId', 'source', 'eventTime', 'ingestTime', 'payload'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 512 },
    dataset: { $ref: '#/$defs/datasetName' },
    agentId: { type: 'string', minLength: 1, maxLength: 200 },
    source: {
      type: 'object',
      required: ['id', 'kind'],
      properties: {
        id: { type: 'string', minLength: 1 },
        kind: { enum: ['file', 'drop', 'http-poll', 'http-push', 'mqtt', 'api', 'job', 'kafka'] },
      },
      additionalProperties: true,
    },
    eventTime: { type: 'string', format: 'date-time' },
    ingestTime: { type: 'string', format: 'date-time' },
    schemaVersion: { type: 'integer', minimum: 1 },
    payload: {},
    parseError: {
      type: 'object',
      required: ['reason', 'raw'],
      additionalProperties: false,
      properties: {
        reason: { type: 'string' },
        raw: { type: 'string', description: 'the input that could not be parsed (base64 when rawEncoding says so)' },
        rawEncoding: { enum: ['utf8', 'base64'] },
      },
    },
    blob: {
      type: 'object',
      required: ['key', 'size', 'sha256', 'contentType'],
      additionalProperties: false,
      properties: {
        key: { type: 'string' },
        size: { type: 'integer', minimum: 0 },
        sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        contentType: { type: 'string' },
        chunks: { type: 'integer', minimum: 0 },
        fileName: { type: 'string' },
      },
    },
  },
  $defs: {
    datasetName: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
  },
} as const;

export type Envelope = FromSchema<typeof envelopeSchema>;
export type SourceKind = Envelope['source']['kind'];

/** Dataset names double as SQL identifiers, topic suffixes, index names and object prefixes. */
export const DATASET_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Kafka carries envelopes as UTF-8 JSON; these headers repeat what routing needs without decoding. A
 * version 2 (compact) envelope has only `dataset` and `envelope` (envelope-wire.ts, docs/envelope.md).
 */
export const KAFKA_HEADERS = {
  dataset: 'dataset',
  schemaVersion: 'schema-version',
  agentId: 'agent-id',
  contentType: 'content-type',
  /** Version 2 (compact) envelopes: what every record of a source shares, as JSON (envelope-wire.ts). */
  envelope: 'envelope',
  /** On blob chunk messages: which blob (sha256), which chunk and how many. */
  blobSha256: 'blob-sha256',
  blobChunk: 'blob-chunk',
  blobChunks: 'blob-chunks',
} as const;

export const CONTENT_TYPES = {
  envelope: 'application/vnd.sluice.envelope+json',
  blobChunk: 'application/vnd.sluice.blob-chunk',
} as const;

// One frozen object per (dataset, agent, schema version): the Kafka client and the agent's outbox encode
// headers once per object identity, so a stream of one dataset's records pays for it once.
const envelopeHeaderCache = new Map<string, Readonly<Record<string, string>>>();

/** The Kafka headers of an envelope message, for every producer of envelopes (agent, ingest API). */
export function envelopeHeaders(dataset: string, agentId: string, schemaVersion?: number): Readonly<Record<string, string>> {
  const cacheKey = `${dataset}\u0000${agentId}\u0000${schemaVersion ?? ''}`;
  let headers = envelopeHeaderCache.get(cacheKey);
  if (!headers) {
    headers = Object.freeze({
      [KAFKA_HEADERS.dataset]: dataset,
      ...(schemaVersion === undefined ? {} : { [KAFKA_HEADERS.schemaVersion]: String(schemaVersion) }),
      [KAFKA_HEADERS.agentId]: agentId,
      [KAFKA_HEADERS.contentType]: CONTENT_TYPES.envelope,
    });
    if (envelopeHeaderCache.size > 10_000) envelopeHeaderCache.clear();
    envelopeHeaderCache.set(cacheKey, headers);
  }
  return headers;
}

/** Largest blob chunk carried in one Kafka message (the broker's default message.max.bytes is ~1 MiB). */
export const BLOB_CHUNK_BYTES = 512 * 1024;

export const DEFAULT_TOPIC_PREFIX = 'sluice.';
export const DLQ_TOPIC = 'sluice.dlq';

export function topicForDataset(dataset: string, prefix: string = DEFAULT_TOPIC_PREFIX): string {
  return `${prefix}${dataset}`;
}
