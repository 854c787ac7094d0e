import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from './json-pointer.ts';
import type { QualityRule, TransformSpec } from './transforms.ts';
import { aggregationsSchema, anomalySettingsSchema, eventTimeSchema, latenessSchema } from './analytics.ts';

/**
 * A dataset: its name, where it goes and how. Its JSON Schema versions are stored beside it (control plane,
 * PostgreSQL). This schema validates the REST body and the stored definition alike.
 */
export const datasetSinksSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    postgres: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: {
        enabled: { type: 'boolean' },
        /** Table name inside the data schema; defaults to the dataset name. */
        table: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
      },
    },
    search: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: {
        enabled: { type: 'boolean' },
        /** Index prefix; the daily index is `<prefix>-YYYY.MM.DD`. Defaults to `sluice-<dataset>`. */
        index: { type: 'string', pattern: '^[a-z0-9][a-z0-9_.-]{0,200}$' },
      },
    },
    objectStore: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: {
        enabled: { type: 'boolean' },
        /** Key prefix inside the bucket; defaults to the dataset name. */
        prefix: { type: 'string', pattern: '^[a-zA-Z0-9][a-zA-Z0-9_./=-]{0,200}$' },
        partitionBy: { enum: ['day', 'hour'], default: 'hour' },
        /** Optional extra partition level: `bucket=<hash(field) mod buckets>`. */
        hash: {
          type: 'object',
          additionalProperties: false,
          required: ['field', 'buckets'],
          properties: { field: { type: 'string' }, buckets: { type: 'integer', minimum: 1, maximum: 1024 } },
        },
        /**
         * Optional range partition level after the hash one (lake-tables, docs/lake.md):
         * `range=<lo>_<hi>` of a numeric field against ascending bounds, `range=lt_<first>`, `range=ge_<last>`,
         * `range=null` when the field is missing or not a number.
         */
        range: {
          type: 'object',
          additionalProperties: false,
          required: ['field', 'bounds'],
          properties: {
            field: { type: 'string' },
            bounds: { type: 'array', minItems: 1, maxItems: 256, items: { type: 'number' } },
          },
        },
      },
    },
  },
} as const;

export const datasetSchema = {
  $id: 'https://sluice.dev/schemas/dataset.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sinks'],
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    description: { type: 'string', maxLength: 2000 },
    /** A payload field whose value becomes the Kafka message key (ordering per key) instead of the record id. */
    partitionKey: { type: 'string', minLength: 1 },
    sinks: datasetSinksSchema,
    /**
     * A Kafka topic third-party producers write plain JSON or text to (docs/datasets.md, "Raw input topics"):
     * the consumer wraps each message into an envelope and loads it like any other record.
     */
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['topic'],
      properties: {
        topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$', description: 'the topic, outside the Sluice topic prefix' },
        format: { enum: ['json', 'text'], default: 'json', description: 'json: each message is one JSON value; text: each message is `{ message }`' },
        idField: { type: 'string', pattern: JSON_POINTER_PATTERN, maxLength: 500, description: "JSON pointer to the record's own key; without it the id comes from topic, partition and offset" },
      },
    },
    /** Where the payload carries the record's event time (docs/analytics.md); else the ingest time is used. */
    eventTime: eventTimeSchema,
    /** Windowed aggregates kept in 1-minute panes (docs/analytics.md). */
    aggregations: aggregationsSchema,
    /** Anomaly detection over its final panes (docs/analytics.md, "Anomalies"); on with defaults when absent. */
    anomalies: anomalySettingsSchema,
    /** When its panes are final and which records count as late (docs/analytics.md). */
    lateness: latenessSchema,
  },
} as const;

export type DatasetSpec = FromSchema<typeof datasetSchema>;
export type DatasetSinks = FromSchema<typeof datasetSinksSchema>;

/** A dataset as the consumer sees it: the spec plus the schema version a record is validated against. */
export interface DatasetVersion {
  spec: DatasetSpec;
  version: number;
  /** JSON Schema (draft 2020-12) of the payload. */
  schema: Record<string, unknown>;
  /** Applied to each record before its event time and schema check (transforms.ts). */
  transforms?: TransformSpec[];
  /** Judged on each record after its schema check (transforms.ts). */
  rules?: QualityRule[];
}
