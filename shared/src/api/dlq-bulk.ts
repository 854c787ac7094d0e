import type { FromSchema } from 'json-schema-to-ts';
import { REASON_KINDS, dlqReplaySchema } from './dlq.ts';

/**
 * Bodies and answers of the DLQ's many-entry routes: POST /api/v1/dlq/dry-run and POST /api/v1/dlq/replay.
 * Both act on a selection: chosen entries (`ids`) or every entry matching a filter (`filter`), never both.
 */

/** Most ids one request may name. */
export const DLQ_MAX_IDS = 500;
/** Most entries one dry run checks; past it the answer says `truncated`. */
export const DLQ_DRY_RUN_MAX = 100_000;
/** Most entries one bulk replay replays; `remaining` says how many of the filter are left. */
export const DLQ_REPLAY_MAX = 500;

const dateTime = { type: 'string', format: 'date-time' } as const;
const bigintString = { type: 'string', pattern: '^[0-9]{1,19}$' } as const;

export const dlqFilterSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataset: { type: 'string', minLength: 1, maxLength: 200 },
    reasonKind: { enum: REASON_KINDS },
    since: { ...dateTime, description: 'entries created at or after this time' },
    until: { ...dateTime, description: 'entries created before this time' },
    replayed: { type: 'boolean', description: 'true: only entries replayed before; false: only entries never replayed; absent: both' },
  },
} as const;

const selectionProperties = {
  ids: { type: 'array', minItems: 1, maxItems: DLQ_MAX_IDS, uniqueItems: true, items: bigintString, description: 'chosen entries' },
  filter: { ...dlqFilterSchema, description: 'every entry matching it ({} matches every entry)' },
} as const;

export const dlqDryRunBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...selectionProperties,
    against: {
      type: 'object',
      additionalProperties: false,
      required: ['dataset', 'version'],
      properties: { dataset: { type: 'string', minLength: 1, maxLength: 200 }, version: { type: 'integer', minimum: 1 } },
      description: "validate this dataset's records against this schema version (other datasets' records against their latest). Default: every record against its dataset's latest version, which is what a replay meets",
    },
    limit: { type: 'integer', minimum: 1, maximum: DLQ_DRY_RUN_MAX, default: 10_000, description: 'most entries checked, oldest first' },
    samples: { type: 'integer', minimum: 0, maximum: 50, default: 5, description: 'how many failures to show' },
  },
} as const;

export const dlqDryRunResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['matched', 'total', 'truncated', 'against', 'wouldPass', 'wouldFail', 'byReason', 'samples'],
  properties: {
    matched: { type: 'integer', description: 'entries the selection names' },
    total: { type: 'integer', description: 'entries checked (at most `limit`)' },
    truncated: { type: 'boolean', description: 'more entries matched than were checked' },
    against: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['dataset', 'version'],
      properties: { dataset: { type: 'string' }, version: { type: 'integer' } },
    },
    wouldPass: { type: 'integer', description: 'entries the consumer would now hand to the stores' },
    wouldFail: { type: 'integer', description: 'entries that would be dead-lettered again' },
    byReason: {
      type: 'array',
      description: 'the failures by reason kind, largest first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['reasonKind', 'count', 'example'],
        properties: { reasonKind: { enum: REASON_KINDS }, count: { type: 'integer' }, example: { type: 'string', description: 'the first such reason' } },
      },
    },
    samples: {
      type: 'array',
      description: 'the first failures, oldest entry first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'recordId', 'dataset', 'reasonKind', 'reason', 'paths'],
        properties: {
          id: bigintString,
          recordId: { type: ['string', 'null'] },
          dataset: { type: ['string', 'null'] },
          reasonKind: { enum: REASON_KINDS },
          reason: { type: 'string', description: 'why it would fail now' },
          paths: { type: 'array', items: { type: 'string' }, description: 'the payload locations the schema refuses (JSON pointers), for a schema failure' },
        },
      },
    },
  },
} as const;

export const dlqBulkReplayBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...selectionProperties,
    limit: { type: 'integer', minimum: 1, maximum: DLQ_REPLAY_MAX, default: 100, description: 'with `filter`: most entries replayed by this request, oldest first' },
    force: { type: 'boolean', description: 'with `ids`: replay entries that were replayed before too' },
    through: {
      ...bigintString,
      description: "with `filter`: only entries up to this id. Send the first answer's `through` with every next request of one run, so entries made meanwhile (records that failed again) are not replayed in a loop",
    },
  },
} as const;

export const dlqBulkReplayResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['replayed', 'skipped', 'remaining', 'through'],
  properties: {
    replayed: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'recordId', 'replay'],
        properties: { id: bigintString, recordId: { type: ['string', 'null'] }, replay: dlqReplaySchema },
      },
    },
    skipped: {
      type: 'array',
      description: 'entries not replayed (unknown, or replayed before and not forced), with why',
      items: { type: 'object', additionalProperties: false, required: ['id', 'reason'], properties: { id: bigintString, reason: { type: 'string' } } },
    },
    remaining: { type: 'integer', description: 'with `filter`: entries of it (up to `through`) still never replayed; send the request again, with `through`, to go on' },
    through: { type: ['string', 'null'], pattern: '^[0-9]{1,19}$', description: 'with `filter`: the newest entry this run covers (null: none matched, or `ids` were sent)' },
  },
} as const;

export type DlqFilter = FromSchema<typeof dlqFilterSchema>;
/** As a client sends them: what has a default may be left out. */
export type DlqDryRunBody = FromSchema<typeof dlqDryRunBodySchema, { keepDefaultedPropertiesOptional: true }>;
export type DlqDryRunResponse = FromSchema<typeof dlqDryRunResponseSchema>;
export type DlqBulkReplayBody = FromSchema<typeof dlqBulkReplayBodySchema, { keepDefaultedPropertiesOptional: true }>;
export type DlqBulkReplayResponse = FromSchema<typeof dlqBulkReplayResponseSchema>;
