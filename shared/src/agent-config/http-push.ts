import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

/**
 * `POST /v1/ingest/:dataset` on the agent's HTTP server: JSON array or NDJSON, size-limited, protected by a
 * bearer token (compared in constant time; `${env:NAME}` substituted by the config loader).
 */
export const httpPushSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'token'],
  properties: {
    type: { const: 'http-push' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    token: { type: 'string', minLength: 16 },
    maxBodyBytes: { type: 'integer', minimum: 1, default: 10 * 1024 * 1024 },
    maxRecords: { type: 'integer', minimum: 1, default: 100_000 },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024 },
  },
} as const;

/** Defaults may not be applied inside the config's oneOf (ajv), so they stay optional here and the source falls back in code. */
export type HttpPushSourceConfig = FromSchema<typeof httpPushSourceConfigSchema, { keepDefaultedPropertiesOptional: true }>;
