import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from './json-pointer.ts';

/**
 * A dataset's analytics settings (docs/analytics.md): where a record's event time is in its payload, and the
 * windowed aggregates kept over its records. Both are part of the dataset spec (dataset.ts).
 */

/**
 * Where the event time is and how it is written. `pattern` takes the tokens yyyy MM dd HH mm ss, S… (fraction,
 * one S per digit) and XXX (`Z` or `±HH:MM`) or Z (`Z`, `±HHMM` or `±HH:MM`); any other character stands for
 * itself and `'…'` quotes letters. A pattern without an offset token is read as UTC.
 */
export const eventTimeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['field', 'format'],
  properties: {
    /** JSON pointer into the payload (RFC 6901), e.g. `/ts` or `/meta/time`. */
    field: { type: 'string', pattern: JSON_POINTER_PATTERN, maxLength: 500 },
    format: { enum: ['rfc3339', 'epoch-s', 'epoch-ms', 'pattern'] },
    pattern: { type: 'string', minLength: 1, maxLength: 100, pattern: "^((yyyy|MM?|dd?|HH?|mm|ss|S{1,9}|XXX|Z)|'[^']*'|[^a-zA-Z'])+$" },
  },
  if: { properties: { format: { const: 'pattern' } } },
  then: { required: ['pattern'] },
} as const;

const fieldPointer = { type: 'string', pattern: JSON_POINTER_PATTERN, maxLength: 500 } as const;

/** One aggregation: rows grouped by some fields, folded into 1-minute panes of their event time. */
export const aggregationSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    /** Payload fields (JSON pointers) whose values make the group; none: one group for the whole dataset. */
    groupBy: { type: 'array', maxItems: 8, uniqueItems: true, items: fieldPointer, default: [] },
    /** Numeric fields: count, sum, min, max and avg always; `percentiles` adds a DDSketch (p50/p95/p99). */
    measures: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['field'],
        properties: { field: fieldPointer, percentiles: { type: 'boolean', default: false } },
      },
      default: [],
    },
    /** Fields whose distinct values are counted (HyperLogLog, about 2% error). */
    distinct: { type: 'array', maxItems: 4, uniqueItems: true, items: fieldPointer, default: [] },
  },
} as const;

export const aggregationsSchema = { type: 'array', maxItems: 16, items: aggregationSchema } as const;

/**
 * When a 1-minute pane is final (docs/analytics.md, "Lateness"): once the dataset's watermark has passed its
 * end plus `graceSeconds`, or at the latest `finalAfterSeconds` of wall-clock time after its end. A record
 * folded into a final pane still counts and is counted late.
 */
export const latenessSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    graceSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 60 },
    finalAfterSeconds: { type: 'integer', minimum: 60, maximum: 86_400, default: 600 },
  },
} as const;

export const LATENESS_DEFAULTS = { graceSeconds: 60, finalAfterSeconds: 600 } as const;

export type EventTimeSpec = FromSchema<typeof eventTimeSchema>;
export type AggregationSpec = FromSchema<typeof aggregationSchema>;
export type LatenessSpec = FromSchema<typeof latenessSchema>;

/**
 * Anomaly detection over the dataset's final panes (docs/analytics.md, "Anomalies"). Every setting has a
 * default (ANOMALY_DEFAULTS), so `{}` or no `anomalies` at all turns it on with those; `enabled: false` off.
 * A pane is flagged when its value lies outside expected ± threshold × scale (scale: 1.4826 × MAD of the
 * baseline, floored); an anomaly opens when `persistence.k` of the last `persistence.n` panes are flagged and
 * resolves after `resolveAfterPanes` panes back inside the band.
 */
export const anomalySettingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: true },
    /** Rows per pane of the whole dataset. */
    volume: { type: 'boolean', default: true },
    /** Rows per pane of each agent (datasets with the PostgreSQL sink: read from its table's agent_id). */
    agents: { type: 'boolean', default: true },
    /** Rows per pane of each group of each aggregation with a groupBy (a device, a site): its volume and silence. */
    groups: { type: 'boolean', default: true },
    /** Which figure of each aggregation's measures, per group, is watched; [] watches none. */
    measureStats: { type: 'array', maxItems: 5, uniqueItems: true, items: { enum: ['avg', 'sum', 'min', 'max', 'count'] }, default: ['avg'] },
    /** Panes of trailing history the baseline is taken from. */
    historyPanes: { type: 'integer', minimum: 10, maximum: 720, default: 60 },
    /** No alarm before a series has this many panes of history (since its first pane with data). */
    minHistoryPanes: { type: 'integer', minimum: 3, maximum: 720, default: 30 },
    /** Sparse-series filter: a series with data in fewer than this share of its history panes is not judged. */
    minFilledRatio: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
    /** Robust z-score beyond which a pane is flagged. */
    threshold: { type: 'number', minimum: 1, maximum: 100, default: 5 },
    persistence: {
      type: 'object',
      additionalProperties: false,
      properties: { k: { type: 'integer', minimum: 1, maximum: 60, default: 3 }, n: { type: 'integer', minimum: 1, maximum: 60, default: 5 } },
    },
    resolveAfterPanes: { type: 'integer', minimum: 1, maximum: 120, default: 5 },
    /** Same time yesterday as the baseline once a day of history exists. */
    seasonal: { type: 'boolean', default: true },
    /** A source that was sending and then sends nothing for this many panes is silent (0: no silence detector). */
    silencePanes: { type: 'integer', minimum: 0, maximum: 1440, default: 5 },
    /** At most this many group, measure and agent series per dataset (those with the most rows first). */
    maxSeries: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
  },
} as const;

export const ANOMALY_DEFAULTS = {
  enabled: true,
  volume: true,
  agents: true,
  groups: true,
  measureStats: ['avg'],
  historyPanes: 60,
  minHistoryPanes: 30,
  minFilledRatio: 0.5,
  threshold: 5,
  persistence: { k: 3, n: 5 },
  resolveAfterPanes: 5,
  seasonal: true,
  silencePanes: 5,
  maxSeries: 1000,
} as const satisfies AnomalySettings;

export type AnomalySettings = FromSchema<typeof anomalySettingsSchema, { keepDefaultedPropertiesOptional: true }>;
export type MeasureStat = 'avg' | 'sum' | 'min' | 'max' | 'count';
