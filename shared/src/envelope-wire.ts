/**
 * The envelope on the wire (docs/envelope.md). Two forms of one envelope, told apart by the `envelope` header:
 *
 *   version 2 (what the agent sends by default): a message carries only what differs per record in its value;
 *   what every record of a source shares travels in one header.
 *     key      the record id (a message keyed by a partition key value carries `id` in its value instead)
 *     headers  dataset · envelope = `{"v":2,"agentId":…,"schemaVersion"?:…,"source":{the shared source fields}}`
 *     value    {"id"?, "source"?: {per-record source fields}, "eventTime"? (only when it is not ingestTime),
 *              "ingestTime", "payload", "parseError"?, "blob"?}
 *   version 1 (no `envelope` header: HTTP ingest, job workers, other producers, older agents): the whole
 *   envelope as JSON in the value; the headers dataset, schema-version, agent-id and content-type repeat what
 *   routing needs.
 *
 * Kafka (and @platformatic/kafka) encode headers per record, so version 2 has two headers where version 1 has
 * three or four. Both forms stand for the same envelope (`expandCompact`): the stores, the DLQ and the ledger
 * see the whole record under the same id whichever form it travelled in.
 */
import { KAFKA_HEADERS, envelopeSchema, type Envelope, type SourceKind } from './envelope.ts';
import { utf8Lenient } from './text-codec.ts';

/** Which form the agent writes: v2 (compact) unless a control plane that only reads v1 is in the way. */
export const WIRE_FORMATS = ['v1', 'v2'] as const;
export type WireFormat = (typeof WIRE_FORMATS)[number];

/** The source fields every record of a source shares (the file source adds `path`). */
export interface SharedSource {
  id: string;
  kind: SourceKind;
  [field: string]: unknown;
}

/** The `envelope` header of a version 2 message, parsed. */
export interface WireContext {
  v: 2;
  agentId: string;
  schemaVersion?: number;
  source: SharedSource;
}

/** The value of a version 2 message. */
export interface CompactValue {
  id?: string;
  /** Per-record source fields (a file line's offset), laid after the shared ones. */
  source?: Record<string, unknown>;
  eventTime?: string;
  ingestTime: string;
  payload: unknown;
  parseError?: Envelope['parseError'];
  blob?: Envelope['blob'];
}

/** The JSON Schemas the consumer checks a version 2 message's parts with (one envelope schema, cut in two). */
export const wireContextSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['v', 'agentId', 'source'],
  properties: {
    v: { const: 2 },
    agentId: envelopeSchema.properties.agentId,
    schemaVersion: envelopeSchema.properties.schemaVersion,
    source: envelopeSchema.properties.source,
  },
} as const;

export const compactValueSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ingestTime', 'payload'],
  properties: {
    id: envelopeSchema.properties.id,
    // The shared `id` and `kind` are the header's alone: a record may not name another source.
    source: { type: 'object', propertyNames: { not: { enum: ['id', 'kind'] } } },
    eventTime: envelopeSchema.properties.eventTime,
    ingestTime: envelopeSchema.properties.ingestTime,
    payload: {},
    parseError: envelopeSchema.properties.parseError,
    blob: envelopeSchema.properties.blob,
  },
} as const;

/** True when a message's value is version 2 (compact). */
export function isCompact(headers: Readonly<Record<string, string>>): boolean {
  return headers[KAFKA_HEADERS.envelope] !== undefined;
}

/** The `envelope` header's text for a source. */
export function wireContextJson(agentId: string, schemaVersion: number | undefined, source: SharedSource): string {
  const context: WireContext = { v: 2, agentId, ...(schemaVersion === undefined ? {} : { schemaVersion }), source };
  return JSON.stringify(context);
}

/**
 * The source fields, by source kind, that all records of one source (or one of its files) share: they travel
 * in the `envelope` header. Only a leading run of them counts (see `toCompact`), so the expanded envelope's
 * fields keep their order.
 */
export const SHARED_SOURCE_FIELDS: Readonly<Partial<Record<SourceKind, readonly string[]>>> = {
  file: ['path'],
  drop: ['file', 'sha256'],
  'http-poll': ['endpoint'],
  mqtt: ['broker'],
};

// One frozen object per (dataset, agent, schema version, shared source): the Kafka client and the outbox
// encode a headers object once per identity, so a stream of one source's records pays for it once.
const headerCache = new Map<string, Readonly<Record<string, string>>>();

/** The headers of a version 2 message. */
export function compactHeaders(dataset: string, agentId: string, schemaVersion: number | undefined, source: SharedSource): Readonly<Record<string, string>> {
  const contextJson = wireContextJson(agentId, schemaVersion, source);
  const cacheKey = `${dataset}\u0000${contextJson}`;
  let headers = headerCache.get(cacheKey);
  if (!headers) {
    headers = Object.freeze({ [KAFKA_HEADERS.dataset]: dataset, [KAFKA_HEADERS.envelope]: contextJson });
    if (headerCache.size >= 10_000) headerCache.clear();
    headerCache.set(cacheKey, headers);
  }
  return headers;
}

/**
 * An envelope in version 2: its value (JSON) and headers. `keyIsId`: the message's key is the record id, so
 * the value leaves it out. The shared source fields are `id`, `kind` and those of `shared` that come first
 * after them: once a field differs per record, the ones after it stay in the value, so that the envelope
 * expanded again has its fields in the same order (and serialises to the same bytes).
 */
export function toCompact(
  envelope: Envelope,
  keyIsId: boolean,
  shared: readonly string[] = SHARED_SOURCE_FIELDS[envelope.source.kind] ?? [],
): { value: string; headers: Readonly<Record<string, string>> } {
  const { id, kind, ...rest } = envelope.source;
  const source: SharedSource = { id, kind };
  let position: Record<string, unknown> | undefined;
  for (const [field, v] of Object.entries(rest)) {
    if (position === undefined && shared.includes(field)) source[field] = v;
    else (position ??= {})[field] = v;
  }
  const value: CompactValue = {
    ...(keyIsId ? {} : { id: envelope.id }),
    ...(position === undefined ? {} : { source: position }),
    ...(envelope.eventTime === envelope.ingestTime ? {} : { eventTime: envelope.eventTime }),
    ingestTime: envelope.ingestTime,
    payload: envelope.payload,
    ...(envelope.parseError === undefined ? {} : { parseError: envelope.parseError }),
    ...(envelope.blob === undefined ? {} : { blob: envelope.blob }),
  };
  return { value: JSON.stringify(value), headers: compactHeaders(envelope.dataset, envelope.agentId, envelope.schemaVersion, source) };
}

/**
 * The envelope a version 2 message stands for, from its parts (already parsed and checked by the caller:
 * the consumer's envelope-decode.ts). Its fields come in the order the agent's version 1 envelopes have, so
 * an envelope serialised again (object-store segments) is the same bytes whichever form it travelled in.
 */
export function expandCompact(id: string, dataset: string, context: WireContext, value: CompactValue): Envelope {
  const envelope: Envelope = {
    id,
    dataset,
    agentId: context.agentId,
    // A fresh object: the consumer shares one parsed context between the records that carry it.
    source: value.source === undefined ? { ...context.source } : { ...context.source, ...value.source },
    eventTime: value.eventTime ?? value.ingestTime,
    ingestTime: value.ingestTime,
    ...(context.schemaVersion === undefined ? {} : { schemaVersion: context.schemaVersion }),
    payload: value.payload,
  };
  if (value.parseError !== undefined) envelope.parseError = value.parseError;
  if (value.blob !== undefined) envelope.blob = value.blob;
  return envelope;
}

/** The envelope of a message in either form, unchecked: for tools and tests that read what was shipped. */
export function readWireEnvelope(key: string | Uint8Array | null | undefined, value: string | Uint8Array, headers: Readonly<Record<string, string>>): Envelope {
  const text = typeof value === 'string' ? value : utf8Lenient(value);
  const contextJson = headers[KAFKA_HEADERS.envelope];
  if (contextJson === undefined) return JSON.parse(text) as Envelope;
  const compact = JSON.parse(text) as CompactValue;
  const keyText = key === null || key === undefined ? undefined : typeof key === 'string' ? key : utf8Lenient(key);
  return expandCompact(compact.id ?? keyText ?? '', headers[KAFKA_HEADERS.dataset] ?? '', JSON.parse(contextJson) as WireContext, compact);
}
