import type { FromSchema } from 'json-schema-to-ts';

/** Lake tables and partitions (docs/lake.md): GET /api/v1/tables, /tables/{name}, /tables/{name}/partitions. */

const dateTimeOrNull = { type: ['string', 'null'], format: 'date-time' } as const;

export const tableNameParams = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;

export const compactionSettingsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    closedAfterMinutes: { type: 'integer', minimum: 0, maximum: 525_600 },
    targetFileBytes: { type: 'integer', minimum: 1024, maximum: 4_294_967_296 },
    rowGroupRows: { type: 'integer', minimum: 100, maximum: 10_000_000 },
  },
} as const;

export const partitionFieldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'source', 'transform', 'key'],
  properties: {
    name: { type: 'string' },
    source: { type: 'string' },
    transform: { type: 'string', description: 'Iceberg-style transform: day, hour, bucket[N], truncate[W] or void' },
    key: { type: 'string' },
    bounds: { type: 'array', items: { type: 'number' } },
  },
} as const;

export const tableSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'prefix', 'partitionSpec', 'description', 'compaction', 'partitions', 'files', 'records', 'bytes', 'lastWrite'],
  properties: {
    name: { type: 'string' },
    prefix: { type: 'string' },
    partitionSpec: { type: 'array', items: partitionFieldSchema },
    description: { type: ['string', 'null'] },
    compaction: compactionSettingsSchema,
    partitions: { type: 'integer' },
    files: { type: 'integer' },
    records: { type: 'integer' },
    bytes: { type: 'integer' },
    lastWrite: dateTimeOrNull,
  },
} as const;

export const tableListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: { items: { type: 'array', items: tableSchema } },
} as const;

export const deletedTableSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'deleted'],
  properties: { name: { type: 'string' }, deleted: { const: true } },
} as const;

export const updateTableBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    description: { type: ['string', 'null'], maxLength: 2000 },
    compaction: compactionSettingsSchema,
  },
} as const;

export const partitionsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    prefix: { type: 'string', maxLength: 300, description: 'partitions whose path starts with this, e.g. dt=2026-03-01' },
    after: { type: 'string', maxLength: 300, description: 'cursor: the nextCursor of the previous page' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
} as const;

export const partitionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['partition', 'files', 'records', 'bytes', 'minEventTime', 'maxEventTime', 'lastWrite'],
  properties: {
    partition: { type: 'string' },
    files: { type: 'integer' },
    records: { type: 'integer' },
    bytes: { type: 'integer' },
    minEventTime: dateTimeOrNull,
    maxEventTime: dateTimeOrNull,
    lastWrite: { type: 'string', format: 'date-time' },
  },
} as const;

export const partitionListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items', 'nextCursor'],
  properties: { items: { type: 'array', items: partitionSchema }, nextCursor: { type: ['string', 'null'] } },
} as const;

export type TableView = FromSchema<typeof tableSchema>;
export type UpdateTableBody = FromSchema<typeof updateTableBody>;
export type PartitionsQuery = FromSchema<typeof partitionsQuerySchema>;
