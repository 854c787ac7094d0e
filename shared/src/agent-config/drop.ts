import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

// `path`, `doneDir` and `failedDir` are checked against the agent's allowed roots by the config loader.
export const dropSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'path'],
  description:
    'A drop folder: whole files are taken once complete, parsed (CSV, NDJSON, JSON array) or shipped as a chunked blob, then moved to `done/` (or deleted) once Kafka acknowledged every record of the file.',
  examples: [{ type: 'drop', id: 'orders', dataset: 'orders', path: '/srv/drop/orders', include: ['*.csv'], completion: { mode: 'rename-in' } }],
  properties: {
    type: { const: 'drop' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    path: { type: 'string', minLength: 1, description: 'The drop folder; must be inside an allowed root.', examples: ['/srv/drop/orders'] },
    include: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'Globs (picomatch) relative to the folder; without it every file is taken.',
      examples: [['*.csv', '*.ndjson']],
    },
    format: {
      enum: ['csv', 'ndjson', 'json', 'blob', 'auto'],
      default: 'auto',
      description: '`auto` picks by extension (.csv/.tsv, .ndjson/.jsonl, .json; anything else is a blob). A blob is shipped whole, in chunks, with its sha256.',
    },
    csv: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How CSV files are read.',
      properties: {
        delimiter: { type: 'string', minLength: 1, maxLength: 4, default: ',', description: 'Field separator.' },
        quote: { type: 'string', minLength: 1, maxLength: 1, default: '"', description: 'Quote character.' },
        header: { type: 'boolean', default: true, description: 'The first row names the columns.' },
        columns: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description: 'Column names when there is no header row.',
          examples: [['ts', 'sku', 'qty']],
        },
      },
    },
    completion: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'When a file counts as complete.',
      properties: {
        mode: {
          enum: ['stable', 'rename-in'],
          default: 'stable',
          description: '`stable`: size and mtime unchanged for `stableMs`; `rename-in`: temporary names (`*.tmp`, `*.part`, `.*`) are ignored until renamed.',
        },
        stableMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 2000, description: 'How long a file must stay unchanged (mode `stable`).' },
      },
    },
    after: { enum: ['move', 'delete'], default: 'move', description: 'What happens to a file once all its records are in Kafka.' },
    doneDir: { type: 'string', minLength: 1, description: 'Where finished files go; default `<path>/done`.' },
    failedDir: { type: 'string', minLength: 1, description: 'Where refused files go, with a report of why; default `<path>/failed`.' },
    duplicates: {
      enum: ['skip', 'ingest'],
      default: 'skip',
      description: 'A file whose content (sha256) was already shipped is skipped, or shipped again (under the same record ids, so stores keep one copy).',
    },
    allowHardLinks: {
      type: 'boolean',
      default: false,
      description: 'Take files that have more than one hard link; by default they go to `failed/`, since their other name may be outside the allowed roots.',
    },
    maxFileBytes: { type: 'integer', minimum: 1, default: 10 * 1024 * 1024 * 1024, description: 'A larger file goes to `failed/`.' },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024, description: 'A larger row or document is shipped as a parseError record (to the DLQ).' },
    blob: {
      type: 'object',
      additionalProperties: false,
      description: 'Blob options.',
      properties: {
        contentType: {
          type: 'string',
          minLength: 1,
          description: "The blob's content type; by default it is taken from the file's extension.",
          examples: ['application/pdf'],
        },
      },
    },
  },
} as const;

export type DropSourceConfig = FromSchema<typeof dropSourceConfigSchema>;
