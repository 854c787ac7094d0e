import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

/**
 * The `file` source: tails files matched by glob patterns. Identity and rotation handling are described in
 * agent/src/sources/file/README.md; every option has a default an operator of Vector or Fluent Bit expects.
 */
export const fileSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'include'],
  properties: {
    type: { const: 'file' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    /** A payload field whose value becomes the Kafka message key instead of the record id (format json). */
    partitionKey: { type: 'string', minLength: 1 },
    /**
     * Glob patterns (picomatch); relative ones resolve against the config file's folder. Only files whose real
     * path (symbolic links resolved) is inside allowedRoots are read.
     */
    include: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    exclude: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    /** Where files present at the very first start (no checkpoints yet) begin; later files always begin at 0. */
    startAt: { enum: ['beginning', 'end'], default: 'beginning' },
    /** `text`: payload `{ message }`; `json`: each line is a JSON value (parse failures become parseError). */
    format: { enum: ['text', 'json'], default: 'text' },
    /** Longer lines become one record with parseError holding the first maxLineBytes; the rest is skipped. */
    maxLineBytes: { type: 'integer', minimum: 64, maximum: 64 * 1024 * 1024, default: 1024 * 1024 },
    multiline: {
      type: 'object',
      additionalProperties: false,
      required: ['startPattern'],
      properties: {
        /** A line matching this regular expression starts a new event; others continue the current one. */
        startPattern: { type: 'string', minLength: 1 },
        maxLines: { type: 'integer', minimum: 1, default: 500 },
        /** A pending event is emitted when no new line arrived for this long. */
        timeoutMs: { type: 'integer', minimum: 10, default: 1000 },
      },
    },
    /** Only UTF-8 is decoded; invalid sequences make a parseError record carrying the raw bytes in base64. */
    encoding: { enum: ['utf8'], default: 'utf8' },
    /** Bytes at the head of a file that identify it: a file (any name, any inode) with the same first bytes continues it. */
    fingerprintBytes: { type: 'integer', minimum: 16, maximum: 65536, default: 1024 },
    /** Bytes read per read(2) call; records of one chunk are committed in one transaction. */
    readChunkBytes: { type: 'integer', minimum: 4096, maximum: 16 * 1024 * 1024, default: 512 * 1024 },
    /** Safety-net rescan interval; file events normally wake the reader sooner. */
    pollIntervalMs: { type: 'integer', minimum: 10, maximum: 60_000, default: 250 },
  },
} as const;

export type FileSourceConfig = FromSchema<typeof fileSourceConfigSchema>;
