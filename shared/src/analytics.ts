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

export type EventTimeSpec = FromSchema<typeof eventTimeSchema>;
export type AggregationSpec = FromSchema<typeof aggregationSchema>;
