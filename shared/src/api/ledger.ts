import type { FromSchema } from 'json-schema-to-ts';

/**
 * GET /api/v1/ledger: per agent × dataset × minute of the records' ingest time, what the agent shipped
 * against what each store holds and what was dead-lettered, so records in flight and records missing are
 * visible per minute, not only as totals.
 *
 *   loaded      the smallest of the store counts: what every enabled store holds (when the stores hold the
 *               same records, as the consumer writes them, this is exact)
 *   inFlight    shipped - loaded - deadLettered, while the minute is recent (ended less than the settle time ago)
 *   missing     the same remainder once the minute has settled: shipped, but in no DLQ and not in every store
 */

/** A store the ledger counts, named as in a dataset's `sinks`. */
export const LEDGER_STORES = ['postgres', 'search', 'objectStore'] as const;

/** The widest range one request may cover. */
export const LEDGER_MAX_RANGE_HOURS = 24;

const dateTime = { type: 'string', format: 'date-time' } as const;

export const ledgerQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { ...dateTime, description: 'start of the range (inclusive; rounded down to the minute). Default: an hour before `to`' },
    to: { ...dateTime, description: 'end of the range (exclusive; rounded up to the minute). Default: now' },
    agent: { type: 'string', minLength: 1, maxLength: 200 },
    dataset: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

const storeCounts = {
  type: 'object',
  additionalProperties: false,
  properties: { postgres: { type: 'integer' }, search: { type: 'integer' }, objectStore: { type: 'integer' } },
} as const;

export const ledgerRowSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['agentId', 'dataset', 'minute', 'settled', 'shipped', 'loaded', 'loadedEverywhere', 'deadLettered', 'inFlight', 'missing', 'missingIn'],
  properties: {
    agentId: { type: 'string' },
    dataset: { type: 'string' },
    minute: dateTime,
    settled: { type: 'boolean', description: 'the minute ended more than the settle time ago: what is not accounted for is missing, no longer in flight' },
    shipped: { type: 'integer', description: 'records the agent reported shipped to Kafka (0 when no agent reported any, e.g. REST ingest)' },
    loaded: { ...storeCounts, description: 'records each counted store holds (only the stores the dataset enables)' },
    loadedEverywhere: { type: 'integer', description: 'the smallest store count: records held by every enabled store' },
    deadLettered: { type: 'integer', description: 'distinct records in the DLQ, not replayed' },
    inFlight: { type: 'integer' },
    missing: { type: 'integer' },
    missingIn: {
      type: 'array',
      items: { enum: LEDGER_STORES },
      description: 'settled minutes: the stores holding fewer records than shipped minus dead-lettered',
    },
  },
} as const;

export const ledgerResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'to', 'settleSeconds', 'rows', 'totals', 'uncounted'],
  properties: {
    from: dateTime,
    to: dateTime,
    settleSeconds: { type: 'integer' },
    rows: { type: 'array', items: ledgerRowSchema, description: 'ordered by minute, dataset, agent' },
    totals: {
      type: 'object',
      additionalProperties: false,
      required: ['shipped', 'loadedEverywhere', 'deadLettered', 'inFlight', 'missing'],
      properties: {
        shipped: { type: 'integer' },
        loadedEverywhere: { type: 'integer' },
        deadLettered: { type: 'integer' },
        inFlight: { type: 'integer' },
        missing: { type: 'integer' },
      },
    },
    uncounted: {
      type: 'array',
      description: 'stores a dataset enables that could not be counted; its rows leave them out of `loaded`',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['dataset', 'store', 'reason'],
        properties: { dataset: { type: 'string' }, store: { enum: LEDGER_STORES }, reason: { type: 'string' } },
      },
    },
  },
} as const;

export type LedgerStore = (typeof LEDGER_STORES)[number];
export type LedgerQuery = FromSchema<typeof ledgerQuerySchema>;
export type LedgerRow = FromSchema<typeof ledgerRowSchema>;
export type LedgerResponse = FromSchema<typeof ledgerResponseSchema>;
