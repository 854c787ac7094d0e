import type { FromSchema } from 'json-schema-to-ts';

/** Lookup tables for the `lookup` transform (docs/transforms.md, "Lookup tables"): key → JSON value. */

export const LOOKUP_MAX_ROWS = 100_000;

export const lookupParamsSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' } },
} as const;

export const putLookupBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rows'],
  properties: {
    description: { type: 'string', maxLength: 2000 },
    rows: {
      type: 'array',
      maxItems: LOOKUP_MAX_ROWS,
      description: 'every row of the table: replaces what it held',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['key', 'value'],
        properties: { key: { type: 'string', minLength: 1, maxLength: 1000 }, value: {} },
      },
    },
  },
} as const;

export const lookupSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'rows', 'updatedAt'],
  properties: { name: { type: 'string' }, description: { type: 'string' }, rows: { type: 'integer' }, updatedAt: { type: 'string', format: 'date-time' } },
} as const;

export const lookupListSchema = { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: lookupSummarySchema } } } as const;

export const lookupRowsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    after: { type: 'string', maxLength: 1000, description: 'the last key of the previous page' },
  },
} as const;

export const lookupViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['lookup', 'rows'],
  properties: {
    lookup: lookupSummarySchema,
    rows: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['key', 'value'], properties: { key: { type: 'string' }, value: {} } } },
    nextAfter: { type: 'string' },
  },
} as const;

export const deletedLookupSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'deleted'],
  properties: { name: { type: 'string' }, deleted: { const: true } },
} as const;

export type PutLookupBody = FromSchema<typeof putLookupBodySchema>;
export type LookupSummary = FromSchema<typeof lookupSummarySchema>;
export type LookupList = FromSchema<typeof lookupListSchema>;
export type LookupRowsQuery = FromSchema<typeof lookupRowsQuerySchema, { keepDefaultedPropertiesOptional: true }>;
export type LookupView = FromSchema<typeof lookupViewSchema>;
