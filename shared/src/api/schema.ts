/**
 * Schema compare and apply (POST /api/v1/schema/compare, POST /api/v1/schema/versions/{id}/apply).
 * A schema version id is `<dataset>@<version>`, e.g. `orders@3`.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { compatibilityReportSchema } from './datasets.ts';

const sideSchema = {
  description: 'a stored version of the dataset, or a proposed JSON Schema',
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['version'], properties: { version: { type: 'integer', minimum: 1 } } },
    { type: 'object', additionalProperties: false, required: ['schema'], properties: { schema: { type: 'object', description: 'JSON Schema (draft 2020-12) of the payload' } } },
  ],
} as const;

export const schemaCompareBody = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'from', 'to'],
  properties: {
    dataset: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    from: sideSchema,
    to: sideSchema,
  },
} as const;

export const schemaCompareResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'from', 'to', 'compatible', 'backward', 'forward', 'changes'],
  properties: {
    dataset: { type: 'string' },
    from: { type: 'object', additionalProperties: false, required: ['version'], properties: { version: { type: ['integer', 'null'], description: 'null: the proposed schema' } } },
    to: { type: 'object', additionalProperties: false, required: ['version'], properties: { version: { type: ['integer', 'null'] } } },
    compatible: { type: 'boolean', description: 'publishing `to` after `from` needs no force' },
    backward: { type: 'boolean', description: 'every record valid under `from` is valid under `to`' },
    forward: { type: 'boolean', description: 'every record valid under `to` is valid under `from`' },
    changes: compatibilityReportSchema.properties.changes,
  },
} as const;

export const schemaVersionParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}@[1-9][0-9]{0,8}$', description: '<dataset>@<version>, e.g. orders@3' } },
} as const;

const notApplied = { type: 'object', additionalProperties: false, required: ['applied', 'reason'], properties: { applied: { const: false }, reason: { type: 'string' } } } as const;

export const schemaApplyResponse = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'version', 'postgres', 'search', 'parquet'],
  properties: {
    dataset: { type: 'string' },
    version: { type: 'integer' },
    postgres: {
      oneOf: [
        notApplied,
        {
          type: 'object',
          additionalProperties: false,
          required: ['applied', 'table', 'added', 'kept', 'retyped', 'outcome'],
          properties: {
            applied: { const: true },
            table: { type: 'string' },
            added: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['column', 'type'], properties: { column: { type: 'string' }, type: { type: 'string' } } } },
            kept: { type: 'array', description: 'columns the version no longer has: kept, with their data', items: { type: 'string' } },
            retyped: {
              type: 'array',
              description: 'columns whose type the version would choose differently: the table keeps its type',
              items: { type: 'object', additionalProperties: false, required: ['column', 'tableType', 'schemaType'], properties: { column: { type: 'string' }, tableType: { type: 'string' }, schemaType: { type: 'string' } } },
            },
            outcome: { type: 'string' },
          },
        },
      ],
    },
    search: {
      oneOf: [
        notApplied,
        {
          type: 'object',
          additionalProperties: false,
          required: ['applied', 'fields', 'outcome'],
          properties: { applied: { const: true }, fields: { type: 'array', items: { type: 'string' } }, outcome: { type: 'string' } },
        },
      ],
    },
    parquet: {
      type: 'object',
      additionalProperties: false,
      required: ['columns', 'note'],
      properties: {
        columns: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'type'],
            properties: { name: { type: 'string' }, type: { type: 'string' }, property: { type: 'string' }, json: { type: 'boolean' } },
          },
        },
        note: { type: 'string' },
      },
    },
  },
} as const;

export type SchemaCompareBody = FromSchema<typeof schemaCompareBody>;
