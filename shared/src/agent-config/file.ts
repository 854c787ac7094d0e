import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

export const fileSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'include'],
  description:
    'Tails files matched by glob patterns, one record per line (or per multiline event). A file is known by its first bytes, not its name, so rotation (rename, copytruncate) neither loses nor repeats lines. Match the rotated names too (`app.log*`).',
  examples: [
    {
      type: 'file',
      id: 'app-logs',
      dataset: 'app_logs',
      include: ['/var/log/app/*.log*'],
      exclude: ['**/*.gz'],
      multiline: { startPattern: '^\\d{4}-\\d{2}-\\d{2}' },
    },
  ],
  properties: {
    type: { const: 'file' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    partitionKey: {
      type: 'string',
      minLength: 1,
      description: 'A payload field whose value becomes the Kafka message key instead of the record id (format `json`).',
      examples: ['host'],
    },
    include: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', minLength: 1 },
      description:
        "Glob patterns (picomatch); relative ones resolve against the config file's folder. Only files whose real path (symbolic links resolved) is inside `allowedRoots` are read.",
      examples: [['/var/log/app/*.log']],
    },
    exclude: { type: 'array', items: { type: 'string', minLength: 1 }, default: [], description: 'Glob patterns of files not to read.', examples: [['**/*.gz']] },
    startAt: {
      enum: ['beginning', 'end'],
      default: 'beginning',
      description: 'Where files present at the very first start (no checkpoints yet) begin; files found later always begin at 0.',
    },
    format: { enum: ['text', 'json'], default: 'text', description: '`text`: payload `{ message }`; `json`: each line is a JSON value (a line that does not parse becomes a parseError record).' },
    maxLineBytes: {
      type: 'integer',
      minimum: 64,
      maximum: 64 * 1024 * 1024,
      default: 1024 * 1024,
      description: 'A longer line becomes one record with parseError holding its first maxLineBytes; the rest is skipped.',
    },
    multiline: {
      type: 'object',
      additionalProperties: false,
      required: ['startPattern'],
      description: 'Joins lines into events (stack traces, for example).',
      properties: {
        startPattern: {
          type: 'string',
          minLength: 1,
          description: 'A line matching this regular expression starts a new event; other lines continue the current one.',
          examples: ['^\\d{4}-\\d{2}-\\d{2}'],
        },
        maxLines: { type: 'integer', minimum: 1, default: 500, description: 'An event is cut after this many lines.' },
        timeoutMs: { type: 'integer', minimum: 10, default: 1000, description: 'A pending event is emitted when no new line arrived for this long.' },
      },
    },
    encoding: { enum: ['utf8'], default: 'utf8', description: 'Only UTF-8 is decoded; invalid sequences make a parseError record carrying the raw bytes in base64.' },
    fingerprintBytes: {
      type: 'integer',
      minimum: 16,
      maximum: 65536,
      default: 1024,
      description: 'Bytes at the head of a file that identify it: a file (any name, any inode) with the same first bytes continues it.',
    },
    readChunkBytes: {
      type: 'integer',
      minimum: 4096,
      maximum: 16 * 1024 * 1024,
      default: 512 * 1024,
      description: 'Bytes read per read(2) call; the records of one chunk are committed in one transaction.',
    },
    pollIntervalMs: { type: 'integer', minimum: 10, maximum: 60_000, default: 250, description: 'Safety-net rescan interval; file events normally wake the reader sooner.' },
  },
} as const;

export type FileSourceConfig = FromSchema<typeof fileSourceConfigSchema>;
