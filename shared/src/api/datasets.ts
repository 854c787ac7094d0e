import type { FromSchema } from 'json-schema-to-ts';
import { datasetSchema } from '../dataset.ts';

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
  required: ['version', 'createdAt', 'schema'],
  properties: { version: { type: 'integer' }, createdAt: { type: 'string', format: 'date-time' }, schema: payloadSchemaSchema },
} as const;

/** The body of a proposed version, to publish (POST …/versions) or only to check (POST …/versions/check). */
export const proposedVersionBodySchema = {
  type: 'object',
  required: ['schema'],
  additionalProperties: false,
  properties: { schema: { type: 'object', description: 'JSON Schema (draft 2020-12) of the payload' } },
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
export type ProposedVersionBody = FromSchema<typeof proposedVersionBodySchema>;
export type VersionCheckResponse = FromSchema<typeof versionCheckResponseSchema>;
