import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

/**
 * A drop folder: whole files are taken once complete, parsed (CSV / NDJSON / JSON array) or shipped as a
 * chunked blob, then moved to `done/` (or deleted) once Kafka acknowledged every record of the file.
 * `path` is checked against the agent's allowed roots by the config loader (it checks fields named `path`).
 */
export const dropSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'path'],
  properties: {
    type: { const: 'drop' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    path: { type: 'string', minLength: 1, description: 'the drop folder; must be inside an allowed root' },
    include: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'globs (picomatch) relative to the folder; default: every file',
    },
    format: { enum: ['csv', 'ndjson', 'json', 'blob', 'auto'], default: 'auto' },
    csv: {
      type: 'object',
      additionalProperties: false,
      properties: {
        delimiter: { type: 'string', minLength: 1, maxLength: 4, default: ',' },
        quote: { type: 'string', minLength: 1, maxLength: 1, default: '"' },
        header: { type: 'boolean', default: true },
        columns: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'names when there is no header row' },
      },
    },
    completion: {
      type: 'object',
      additionalProperties: false,
      properties: {
        mode: { enum: ['stable', 'rename-in'], default: 'stable' },
        stableMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 2000 },
      },
      description:
        'stable: size and mtime unchanged for stableMs; rename-in: temp names (*.tmp, *.part, .*) are ignored until renamed',
    },
    after: { enum: ['move', 'delete'], default: 'move' },
    doneDir: { type: 'string', minLength: 1, description: 'default <path>/done' },
    failedDir: { type: 'string', minLength: 1, description: 'default <path>/failed' },
    duplicates: { enum: ['skip', 'ingest'], default: 'skip' },
    allowHardLinks: {
      type: 'boolean',
      default: false,
      description:
        'take files that have more than one hard link; by default they go to failed/, since their other name may be outside the allowed roots',
    },
    maxFileBytes: { type: 'integer', minimum: 1, default: 10 * 1024 * 1024 * 1024 },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024 },
    blob: {
      type: 'object',
      additionalProperties: false,
      properties: { contentType: { type: 'string', minLength: 1 } },
    },
  },
} as const;

/** Defaults may not be applied inside the config's oneOf (ajv), so they stay optional here and the source falls back in code. */
export type DropSourceConfig = FromSchema<typeof dropSourceConfigSchema, { keepDefaultedPropertiesOptional: true }>;
