import type { FromSchema } from 'json-schema-to-ts';
import { controlPlaneConfigSchema } from './control-plane.ts';
import { dropSourceConfigSchema } from './drop.ts';
import { fileSourceConfigSchema } from './file.ts';
import { httpPollSourceConfigSchema } from './http-poll.ts';
import { httpPushSourceConfigSchema } from './http-push.ts';

/**
 * `synchronous` default. In WAL mode NORMAL survives a killed process (the WAL is in the OS page cache); a
 * power loss may roll back the last commits, and with them the read positions committed alongside: a file,
 * drop folder or API is read again from there, so nothing is lost either. A pushed batch cannot be read
 * again, so http-push commits are always fsynced (FULL) before it answers 200, whatever this says. FULL
 * fsyncs every commit (an fsync per tailed chunk: slower, and a latency spike per commit); OFF trusts the OS.
 */
export const DEFAULT_OUTBOX_SYNCHRONOUS = 'NORMAL';

/** The agent's YAML configuration (`sluice-agent run --config agent.yaml`). */
export const agentConfigSchema = {
  $id: 'https://sluice.dev/schemas/agent-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['agentId', 'kafka'],
  properties: {
    /** Part of every record id: no ':' allowed. */
    agentId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$' },
    /** Where the outbox lives; relative paths resolve against the config file's folder. */
    dataDir: { type: 'string', minLength: 1, default: './data' },
    kafka: {
      type: 'object',
      additionalProperties: false,
      required: ['brokers'],
      properties: {
        brokers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' } },
        clientId: { type: 'string', minLength: 1, default: 'sluice-agent' },
        compression: { enum: ['lz4', 'zstd', 'gzip', 'none'], default: 'lz4' },
        topicPrefix: { type: 'string', pattern: '^[A-Za-z0-9._-]*$', default: 'sluice.' },
      },
    },
    outbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxBytes: { type: 'integer', minimum: 1024 * 1024, default: 1024 * 1024 * 1024 },
        maxRows: { type: 'integer', minimum: 100, default: 2_000_000 },
        synchronous: { enum: ['FULL', 'NORMAL', 'OFF'], default: DEFAULT_OUTBOX_SYNCHRONOUS },
      },
    },
    shipper: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        batchSize: { type: 'integer', minimum: 1, maximum: 100_000, default: 20_000 },
        lingerMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 5 },
        /**
         * Uncompressed bytes per produce request. The broker's message.max.bytes (~1 MiB) limits each
         * partition's compressed batch: the producer fills partitions up to ~1 MiB each and splits a request
         * the broker refuses as too large.
         */
        maxBatchBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024, default: 4 * 1024 * 1024 },
        /** How long SIGTERM waits for the outbox to drain before closing. */
        drainTimeoutMs: { type: 'integer', minimum: 0, default: 10_000 },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        /** host:port; port 0 picks a free port. Anything but loopback (127.0.0.1, ::1) requires `token`. */
        listen: { type: 'string', pattern: '^[^\\s]*:[0-9]{1,5}$', default: '127.0.0.1:8686' },
        /** When set, /metrics, /healthz and /status require `Authorization: Bearer <token>` (use `${env:NAME}`). */
        token: { type: 'string', minLength: 8 },
      },
    },
    /** Optional: lets `validate` and `/status` say which datasets the control plane does not know. */
    controlPlane: controlPlaneConfigSchema,
    /** Folders file and drop sources may read; paths are compared after resolving symlinks. */
    allowedRoots: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    sources: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        discriminator: { propertyName: 'type' },
        required: ['type'],
        properties: { type: { enum: ['file', 'drop', 'http-poll', 'http-push'] } },
        oneOf: [fileSourceConfigSchema, dropSourceConfigSchema, httpPollSourceConfigSchema, httpPushSourceConfigSchema],
      },
    },
  },
} as const;

export type AgentConfig = FromSchema<typeof agentConfigSchema>;
export type SourceConfig = AgentConfig['sources'][number];
export type SourceType = SourceConfig['type'];
export type { FileSourceConfig } from './file.ts';
export type { DropSourceConfig } from './drop.ts';
export type { HttpPollSourceConfig } from './http-poll.ts';
export type { HttpPushSourceConfig } from './http-push.ts';
