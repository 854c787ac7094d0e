import type { FromSchema } from 'json-schema-to-ts';
import { datasetSchema } from '../dataset.ts';
import { qualityRulesSchema, transformsSchema } from '../transforms.ts';

/**
 * Responses of /api/v1/datasets. The spec in them is the dataset schema itself (without its `$id`, which
 * a response body does not carry), so what a client sent and what it reads back are one type.
 */
const { $id: _id, ...datasetSpecSchema } = datasetSchema;

/** The payload's JSON Schema as stored: any object, passed through as it is. */
const payloadSchemaSchema = { type: 'object', additionalProperties: true, description: 'JSON Schema (draft 2020-12) of the payload' } as const;

export const datasetViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['spec', 'topic', 'latestVersion', 'schema', 'versions', 'createdAt'],
  properties: {
    spec: datasetSpecSchema,
    topic: { type: 'string', description: "the Kafka topic its records travel on: `sluice.<name>` (the control plane's SLUICE_TOPIC_PREFIX)" },
    latestVersion: { type: 'integer' },
    schema: payloadSchemaSchema,
    versions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['version', 'createdAt'],
        properties: { version: { type: 'integer' }, createdAt: { type: 'string', format: 'date-time' } },
      },
    },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const datasetListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: { items: { type: 'array', items: datasetViewSchema } },
} as const;

/** What each sink did to get ready for a new version (the postgres sink ALTERs its table). */
const preparedSchema = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['sink', 'outcome'],
    properties: {
      sink: { type: 'string' },
      outcome: { enum: ['ok', 'retryable', 'failed', 'unclassified'] },
      reason: { type: 'string' },
    },
  },
} as const;

export const compatibilityReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['compatible', 'changes'],
  properties: {
    compatible: { type: 'boolean' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'path', 'compatible', 'detail'],
        properties: {
          type: { enum: ['ADD_COLUMN', 'DROP_COLUMN', 'CHANGE_TYPE', 'MAKE_REQUIRED', 'MAKE_OPTIONAL'] },
          path: { type: 'string', description: 'dotted field path, e.g. location.lat' },
          compatible: { type: 'boolean', description: 'publishing it needs no force' },
          backward: { type: 'boolean', description: 'records of the old schema are valid under the new one' },
          forward: { type: 'boolean', description: 'records of the new schema are valid under the old one' },
          from: { type: 'string', description: 'CHANGE_TYPE: the types before (|-joined)' },
          to: { type: 'string', description: 'CHANGE_TYPE: the types after' },
          detail: { type: 'string' },
        },
      },
    },
  },
} as const;

export const createDatasetResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'prepared'],
  properties: { dataset: datasetViewSchema, prepared: preparedSchema },
} as const;

export const addVersionResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'compatibility', 'prepared'],
  properties: { version: { type: 'integer' }, compatibility: compatibilityReportSchema, prepared: preparedSchema },
} as const;

/** GET /datasets/:name/versions/:version: one stored version (immutable) with its schema. */
export const datasetVersionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['version', 'createdAt', 'schema', 'transforms', 'rules'],
  properties: {
    version: { type: 'integer' },
    createdAt: { type: 'string', format: 'date-time' },
    schema: payloadSchemaSchema,
    transforms: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'applied before the schema check (docs/transforms.md)' },
    rules: { type: 'array', items: { type: 'object', additionalProperties: true }, description: 'quality rules judged after it' },
  },
} as const;

/** What a version carries besides its schema: transforms and quality rules (docs/transforms.md). */
export const processingProperties = {
  transforms: { ...transformsSchema, description: 'applied to each record before its event time and schema check' },
  rules: { ...qualityRulesSchema, description: 'quality rules judged on each record after the schema check' },
} as const;

/** The body of a proposed version, to publish (POST …/versions) or only to check (POST …/versions/check). */
export const proposedVersionBodySchema = {
  type: 'object',
  required: ['schema'],
  additionalProperties: false,
  properties: { schema: { type: 'object', description: 'JSON Schema (draft 2020-12) of the payload' }, ...processingProperties },
} as const;

/** POST /datasets/:name/dry-run: sample payloads through a version's (or a proposed version's) processing. */
export const dryRunBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['records'],
  properties: {
    records: { type: 'array', minItems: 1, maxItems: 1000, items: {}, description: 'payloads, as a source would send them' },
    version: { type: 'integer', minimum: 1, description: 'a stored version (default: the latest); ignored for the parts `proposed` gives' },
    proposed: {
      type: 'object',
      additionalProperties: false,
      properties: { schema: { type: 'object' }, ...processingProperties },
      description: 'a schema, transforms or rules not published yet: they replace the stored version\'s',
    },
  },
} as const;

const ruleOutcomeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rule', 'outcome'],
  properties: { rule: { type: 'string' }, outcome: { enum: ['pass', 'warn', 'fail'] }, reason: { type: 'string' }, value: {} },
} as const;

export const dryRunResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'version', 'results', 'summary'],
  properties: {
    dataset: { type: 'string' },
    version: { type: 'integer', description: 'the stored version the run started from' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['index', 'outcome'],
        properties: {
          index: { type: 'integer' },
          outcome: { enum: ['loaded', 'dead-lettered'] },
          payload: { description: 'what the stores would get' },
          eventTime: { type: 'string' },
          reason: { type: 'string', description: 'why it would go to the DLQ' },
          rules: { type: 'array', items: ruleOutcomeSchema },
        },
      },
    },
    summary: {
      type: 'object',
      additionalProperties: false,
      required: ['loaded', 'deadLettered', 'warned'],
      properties: { loaded: { type: 'integer' }, deadLettered: { type: 'integer' }, warned: { type: 'integer' } },
    },
  },
} as const;

/** GET /datasets/:name/quality: the rules' outcomes per minute and the worst offenders. */
export const qualityQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } },
} as const;

const outcomeCounts = { pass: { type: 'integer' }, warn: { type: 'integer' }, fail: { type: 'integer' } } as const;

export const qualityReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'from', 'to', 'rules'],
  properties: {
    dataset: { type: 'string' },
    from: { type: 'string', format: 'date-time' },
    to: { type: 'string', format: 'date-time' },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['rule', 'severity', 'pass', 'warn', 'fail', 'minutes', 'offenders'],
        properties: {
          rule: { type: 'string' },
          severity: { enum: ['warn', 'fail'] },
          ...outcomeCounts,
          minutes: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['minute', 'pass', 'warn', 'fail'], properties: { minute: { type: 'string', format: 'date-time' }, ...outcomeCounts } } },
          offenders: {
            type: 'array',
            description: 'the values that broke the rule most often among its newest offending records',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['value', 'count', 'lastRecordId', 'lastReason', 'lastAt'],
              properties: { value: {}, count: { type: 'integer' }, lastRecordId: { type: 'string' }, lastReason: { type: 'string' }, lastAt: { type: 'string', format: 'date-time' } },
            },
          },
        },
      },
    },
  },
} as const;

/** POST /datasets/:name/versions/check: what publishing the schema would do, with nothing stored. */
export const versionCheckResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['latestVersion', 'version', 'compatibility'],
  properties: {
    latestVersion: { type: 'integer', description: 'the version it was compared with' },
    version: { type: 'integer', description: 'the number it would get if published now' },
    compatibility: compatibilityReportSchema,
  },
} as const;

export type DatasetViewResponse = FromSchema<typeof datasetViewSchema>;
export type DatasetListResponse = FromSchema<typeof datasetListSchema>;
export type CompatibilityReportResponse = FromSchema<typeof compatibilityReportSchema>;
export type CreateDatasetResponse = FromSchema<typeof createDatasetResponseSchema>;
export type AddVersionResponse = FromSchema<typeof addVersionResponseSchema>;
export type DatasetVersionResponse = FromSchema<typeof datasetVersionSchema>;
export type ProposedVersionBody = FromSchema<typeof proposedVersionBodySchema, { keepDefaultedPropertiesOptional: true }>;
export type VersionCheckResponse = FromSchema<typeof versionCheckResponseSchema>;
export type DryRunBody = FromSchema<typeof dryRunBodySchema, { keepDefaultedPropertiesOptional: true }>;
export type DryRunResponse = FromSchema<typeof dryRunResponseSchema>;
export type QualityReport = FromSchema<typeof qualityReportSchema>;
