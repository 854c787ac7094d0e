import type { FromSchema } from 'json-schema-to-ts';

/**
 * Responses of /api/v1/dlq. Ids and offsets are strings: they are PostgreSQL bigints and Kafka offsets,
 * larger than a JSON number holds exactly.
 */

/** What went wrong with a dead-lettered record, as a stable class (the consumer decides it from the reason). */
export const REASON_KINDS = ['unknown_dataset', 'parse', 'schema', 'not_envelope', 'size', 'unstorable', 'sink', 'blob', 'other'] as const;

const dateTime = { type: 'string', format: 'date-time' } as const;
const bigintString = { type: 'string', pattern: '^[0-9]{1,19}$' } as const;

export const dlqReplaySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['replayedAt', 'keyId', 'keyName', 'forced', 'topic', 'partition', 'offset'],
  properties: {
    replayedAt: dateTime,
    keyId: { type: 'string', description: 'the API key that replayed the entry' },
    keyName: { type: 'string' },
    forced: { type: 'boolean', description: 'the entry had been replayed before' },
    topic: { type: 'string', description: 'where the copy landed' },
    partition: { type: 'integer' },
    offset: bigintString,
  },
} as const;

const dlqEntryProperties = {
  id: bigintString,
  dataset: { type: ['string', 'null'] },
  recordId: { type: ['string', 'null'] },
  topic: { type: 'string', description: 'the topic the record came from; a replay produces to it' },
  partition: { type: 'integer' },
  offset: bigintString,
  reason: { type: 'string' },
  reasonKind: { enum: REASON_KINDS },
  paths: { type: 'array', items: { type: 'string' }, description: 'the payload locations (JSON pointers) a schema failure names; empty for other reasons' },
  schemaVersion: { type: ['integer', 'null'] },
  headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'the original Kafka headers plus the dlq-* ones' },
  size: { type: 'integer', description: 'bytes of the original message' },
  originalBase64: { type: 'string' },
  originalText: { type: 'string', description: 'the original as text (first 64 KiB), when it is valid UTF-8' },
  createdAt: dateTime,
  replayedAt: { type: ['string', 'null'], format: 'date-time' },
} as const;

const dlqEntryRequired = [
  'id',
  'dataset',
  'recordId',
  'topic',
  'partition',
  'offset',
  'reason',
  'reasonKind',
  'paths',
  'schemaVersion',
  'headers',
  'size',
  'originalBase64',
  'createdAt',
  'replayedAt',
] as const;

export const dlqEntrySchema = { type: 'object', additionalProperties: false, required: dlqEntryRequired, properties: dlqEntryProperties } as const;

export const dlqListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['total', 'items'],
  properties: { total: { type: 'integer', description: 'entries matching the filter, on every page' }, items: { type: 'array', items: dlqEntrySchema } },
} as const;

/** One entry with every replay of it, oldest first. */
export const dlqEntryDetailSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...dlqEntryRequired, 'replays'],
  properties: { ...dlqEntryProperties, replays: { type: 'array', items: dlqReplaySchema } },
} as const;

/** The entry after a replay, the replay just made, and every replay of it. */
export const dlqReplayResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...dlqEntryRequired, 'replay', 'replays'],
  properties: { ...dlqEntryProperties, replay: dlqReplaySchema, replays: { type: 'array', items: dlqReplaySchema } },
} as const;

export const dlqCountsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['total', 'byReasonKind'],
  properties: {
    total: { type: 'integer' },
    byReasonKind: {
      type: 'array',
      description: 'largest first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['reasonKind', 'count', 'notReplayed', 'lastAt', 'example', 'datasets'],
        properties: {
          reasonKind: { enum: REASON_KINDS },
          count: { type: 'integer' },
          notReplayed: { type: 'integer' },
          lastAt: dateTime,
          example: { type: 'string', description: 'the latest reason of this kind' },
          datasets: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['dataset', 'count'],
              properties: { dataset: { type: ['string', 'null'] }, count: { type: 'integer' } },
            },
          },
        },
      },
    },
  },
} as const;

export type ReasonKind = (typeof REASON_KINDS)[number];
export type DlqReplayView = FromSchema<typeof dlqReplaySchema>;
export type DlqEntryView = FromSchema<typeof dlqEntrySchema>;
export type DlqListResponse = FromSchema<typeof dlqListSchema>;
export type DlqEntryDetailResponse = FromSchema<typeof dlqEntryDetailSchema>;
export type DlqReplayResponse = FromSchema<typeof dlqReplayResponseSchema>;
export type DlqCountsResponse = FromSchema<typeof dlqCountsSchema>;
