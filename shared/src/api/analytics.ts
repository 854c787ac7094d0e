import type { FromSchema } from 'json-schema-to-ts';

/**
 * Analytics queries (docs/analytics.md), role viewer:
 *   GET /api/v1/analytics/:dataset/aggregates  windows of an aggregation, merged from its 1-minute panes
 *   GET /api/v1/analytics/:dataset/counters    the current minute's panes of every aggregation (real-time counters)
 */

/** The widest range one aggregates request may cover. */
export const ANALYTICS_MAX_RANGE_HOURS = 24 * 7;

const dateTime = { type: 'string', format: 'date-time' } as const;

export const analyticsParamsSchema = {
  type: 'object',
  required: ['dataset'],
  properties: { dataset: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' } },
} as const;

export const aggregatesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['aggregation'],
  properties: {
    aggregation: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    from: { ...dateTime, description: 'windows starting at or after this (default: an hour before `to`)' },
    to: { ...dateTime, description: 'windows starting before this (default: now)' },
    windowMinutes: { type: 'integer', minimum: 1, maximum: 1440, default: 5, description: 'window size' },
    hopMinutes: { type: 'integer', minimum: 1, maximum: 1440, description: 'a window starts every hop (default: the window size, i.e. tumbling)' },
    rolling: { type: 'boolean', default: false, description: 'one window per group ending with the current minute of `to` (hop ignored)' },
    group: { type: 'string', maxLength: 2000, description: 'only this group: a JSON array of the group-by values, e.g. ["berlin"]' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 100, description: 'nextCursor of the previous page' },
  },
} as const;

const measureFigures = {
  type: 'object',
  additionalProperties: false,
  required: ['count', 'sum', 'min', 'max', 'avg'],
  properties: {
    count: { type: 'integer' },
    sum: { type: 'number' },
    min: { type: ['number', 'null'] },
    max: { type: ['number', 'null'] },
    avg: { type: ['number', 'null'] },
    p50: { type: ['number', 'null'] },
    p95: { type: ['number', 'null'] },
    p99: { type: ['number', 'null'] },
  },
} as const;

export const windowFiguresSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['start', 'end', 'group', 'count', 'lateRows', 'measures', 'distinct'],
  properties: {
    start: dateTime,
    end: dateTime,
    group: { type: 'object', additionalProperties: true, description: 'group-by field (JSON pointer) → value' },
    count: { type: 'integer' },
    lateRows: { type: 'integer', description: 'of `count`, rows folded after their pane was final (docs/analytics.md, "Lateness")' },
    final: { type: 'boolean', description: 'every pane of the window is final: its figures change only by late rows' },
    measures: { type: 'object', additionalProperties: measureFigures },
    distinct: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

export const aggregatesResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'aggregation', 'windowMinutes', 'hopMinutes', 'windows'],
  properties: {
    dataset: { type: 'string' },
    aggregation: { type: 'string' },
    windowMinutes: { type: 'integer' },
    hopMinutes: { type: 'integer' },
    windows: { type: 'array', items: windowFiguresSchema },
    nextCursor: { type: 'string' },
  },
} as const;

export const countersResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'minute', 'aggregations'],
  properties: {
    dataset: { type: 'string' },
    minute: dateTime,
    aggregations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['aggregation', 'groups'],
        properties: { aggregation: { type: 'string' }, groups: { type: 'array', items: windowFiguresSchema } },
      },
    },
  },
} as const;

export type AggregatesQuery = FromSchema<typeof aggregatesQuerySchema, { keepDefaultedPropertiesOptional: true }>;
export type AggregatesResponse = FromSchema<typeof aggregatesResponseSchema>;
export type CountersResponse = FromSchema<typeof countersResponseSchema>;

/** Filter operators of GET /analytics/:dataset/records (`column:op:value`). */
export const RECORD_FILTER_OPS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

export const recordsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { ...dateTime, description: 'event time at or after this (default: an hour before `to`)' },
    to: { ...dateTime, description: 'event time before this (default: now)' },
    filter: {
      type: 'array',
      maxItems: 10,
      items: { type: 'string', maxLength: 600, pattern: '^[^:]{1,63}:(eq|ne|lt|le|gt|ge):' },
      description: 'repeatable `column:op:value` on a typed column or agent_id, op one of eq, ne, lt, le, gt, ge; all must hold',
    },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 200, description: 'nextCursor of the previous page' },
  },
} as const;

export const recordsResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'from', 'to', 'items', 'nextCursor'],
  properties: {
    dataset: { type: 'string' },
    from: dateTime,
    to: dateTime,
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'eventTime', 'ingestTime', 'agentId', 'payload'],
        properties: { id: { type: 'string' }, eventTime: dateTime, ingestTime: dateTime, agentId: { type: 'string' }, payload: {} },
      },
    },
    nextCursor: { type: ['string', 'null'] },
  },
} as const;

export type RecordsQuery = FromSchema<typeof recordsQuerySchema>;
export type RecordsResponse = FromSchema<typeof recordsResponseSchema>;

/** Anomaly series kinds (docs/analytics.md, "Anomalies"). */
export const ANOMALY_SERIES_KINDS = ['volume', 'agent_volume', 'group_volume', 'measure', 'silence', 'agent_silence', 'group_silence'] as const;

/** GET /api/v1/analytics/:dataset/anomalies: anomalies whose window overlaps [from, to), newest first. */
export const anomaliesQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { enum: ['open', 'resolved'], description: 'only open or only resolved anomalies' },
    kind: { enum: ANOMALY_SERIES_KINDS, description: 'only this kind of series' },
    series: { type: 'string', maxLength: 2000, description: 'only this series: `kind` or `kind:key`, as answered in `series`' },
    from: { ...dateTime, description: 'anomalies whose window ends after this (default: a day before `to`)' },
    to: { ...dateTime, description: 'anomalies whose window starts before this (default: now)' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    cursor: { type: 'string', maxLength: 3000, description: 'nextCursor of the previous page' },
  },
} as const;

export const anomalySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['series', 'kind', 'key', 'direction', 'windowStart', 'windowEnd', 'observed', 'expected', 'bandLow', 'bandHigh', 'score', 'state', 'openedAt', 'resolvedAt', 'updatedAt'],
  properties: {
    series: { type: 'string', description: '`kind` or `kind:key`: the `series` label of sluice_anomaly_open' },
    kind: { enum: ANOMALY_SERIES_KINDS },
    key: { type: 'string', description: "'' (the dataset), an agent id, `aggregation|group` for a group, or `aggregation|field|stat|group` for a measure" },
    direction: { enum: ['high', 'low', 'silent'] },
    windowStart: { ...dateTime, description: 'start of the first pane of the anomaly' },
    windowEnd: { ...dateTime, description: 'end of the last pane found out of band (silence: the last silent pane)' },
    observed: { type: 'number', description: 'the value of its most anomalous pane' },
    expected: { type: 'number', description: 'what the baseline expected there' },
    bandLow: { type: 'number' },
    bandHigh: { type: 'number' },
    score: { type: 'number', description: 'robust z-score of that pane (silence: panes without rows)' },
    state: { enum: ['open', 'resolved'] },
    openedAt: { ...dateTime, description: 'end of the pane that opened it (event time)' },
    resolvedAt: { type: ['string', 'null'], format: 'date-time', description: 'end of the pane that resolved it' },
    updatedAt: { ...dateTime, description: 'when the detector last wrote it (wall clock)' },
  },
} as const;

export const anomaliesResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'from', 'to', 'items', 'nextCursor'],
  properties: {
    dataset: { type: 'string' },
    from: dateTime,
    to: dateTime,
    items: { type: 'array', items: anomalySchema },
    nextCursor: { type: ['string', 'null'] },
  },
} as const;

export type AnomaliesQuery = FromSchema<typeof anomaliesQuerySchema>;
export type AnomaliesResponse = FromSchema<typeof anomaliesResponseSchema>;
export type AnomalyItem = FromSchema<typeof anomalySchema>;
