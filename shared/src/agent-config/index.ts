import type { FromSchema } from 'json-schema-to-ts';
import { controlPlaneConfigSchema } from './control-plane.ts';
import { sourcesSchema } from './pipeline.ts';

/**
 * `synchronous` default. In WAL mode NORMAL survives a killed process (the WAL is in the OS page cache); a
 * power loss may roll back the last commits, and with them the read positions committed alongside: a file,
 * drop folder or API is read again from there, so nothing is lost either. A pushed batch cannot be read
 * again, so http-push commits are always fsynced (FULL) before it answers 200, whatever this says. FULL
 * fsyncs every commit (an fsync per tailed chunk: slower, and a latency spike per commit); OFF trusts the OS.
 */
export const DEFAULT_OUTBOX_SYNCHRONOUS = 'NORMAL';

/**
 * The agent's YAML configuration (`sluice-agent run --config agent.yaml`): the local settings below plus the
 * pipeline (`sources`, pipeline.ts). The local settings are the control channel and the machine's own
 * bounds (Kafka, outbox, HTTP listen, allowed folders): a policy pushed by the control plane carries only the
 * pipeline, so no pushed revision can cut an agent off or widen what it may read. `agentId` is optional here
 * because a fleet-managed agent gets it from enrollment; standalone `run` requires it.
 */
export const agentConfigSchema = {
  $id: 'https://sluice.dev/schemas/agent-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['kafka'],
  properties: {
    agentId: {
      type: 'string',
      pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$',
      description: "The agent's name; part of every record id, so keep it stable (no ':'). Required when the agent runs standalone; a fleet-managed agent gets it from enrollment.",
      examples: ['gateway-berlin-01'],
    },
    dataDir: { type: 'string', minLength: 1, default: './data', description: "Where the outbox lives; a relative path resolves against the config file's folder." },
    kafka: {
      type: 'object',
      additionalProperties: false,
      required: ['brokers'],
      description: 'Where records are shipped.',
      properties: {
        brokers: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', pattern: '^[^\\s:]+:[0-9]{1,5}$' },
          description: 'Bootstrap brokers, `host:port`.',
          examples: [['kafka-1:9092', 'kafka-2:9092']],
        },
        clientId: { type: 'string', minLength: 1, default: 'sluice-agent', description: 'Kafka client id (shows in broker logs and quotas).' },
        compression: { enum: ['lz4', 'zstd', 'gzip', 'none'], default: 'lz4', description: 'Compression of produced batches, and of the outbox frames stored as such ([shipping](shipping.md#record-batches-built-once)).' },
        topicPrefix: { type: 'string', pattern: '^[A-Za-z0-9._-]*$', default: 'sluice.', description: "A dataset's topic is this prefix + the dataset name." },
        envelope: {
          enum: ['v2', 'v1'],
          default: 'v2',
          description:
            'The envelope form on the wire (docs/envelope.md): `v2` is compact (what a file line shares with its file travels once per message in one header); `v1` sends whole envelopes, for a control plane that does not read v2 yet. Upgrade control planes first.',
        },
      },
    },
    outbox: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The durable local buffer between sources and Kafka. When it is full, sources pause (http-push answers 429).',
      properties: {
        maxBytes: { type: 'integer', minimum: 1024 * 1024, default: 1024 * 1024 * 1024, description: 'Size cap of the records waiting to be shipped.' },
        maxRows: { type: 'integer', minimum: 100, default: 2_000_000, description: 'Record count cap.' },
        synchronous: {
          enum: ['FULL', 'NORMAL', 'OFF'],
          default: DEFAULT_OUTBOX_SYNCHRONOUS,
          description:
            'SQLite `synchronous`. NORMAL survives a killed process; a power loss may roll back the last commits and their read positions alike, so those records are read again, not lost. FULL fsyncs every commit (slower); OFF trusts the OS. http-push commits are always fsynced.',
        },
      },
    },
    shipper: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Delivery from the outbox to Kafka (idempotent producer, acks=all).',
      properties: {
        batchSize: { type: 'integer', minimum: 1, maximum: 100_000, default: 20_000, description: 'Records per produce request at most.' },
        lingerMs: { type: 'integer', minimum: 0, maximum: 60_000, default: 5, description: 'How long a batch smaller than batchSize waits for more records.' },
        maxBatchBytes: {
          type: 'integer',
          minimum: 1024,
          maximum: 64 * 1024 * 1024,
          default: 4 * 1024 * 1024,
          description:
            "Uncompressed bytes per produce request. The broker's message.max.bytes (~1 MiB) limits each partition's compressed batch: the producer fills partitions up to ~1 MiB each and splits a request the broker refuses as too large.",
        },
        drainTimeoutMs: { type: 'integer', minimum: 0, default: 10_000, description: 'How long SIGTERM waits for the outbox to drain before closing.' },
      },
    },
    http: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "The agent's HTTP server: /metrics, /healthz, /status and the http-push sources.",
      properties: {
        listen: {
          type: 'string',
          pattern: '^[^\\s]*:[0-9]{1,5}$',
          default: '127.0.0.1:8686',
          description: '`host:port`; port 0 picks a free port. Anything but loopback (127.0.0.1, ::1) requires `token`.',
          examples: ['0.0.0.0:8686'],
        },
        token: {
          type: 'string',
          minLength: 8,
          description: 'When set, /metrics, /healthz and /status require `Authorization: Bearer <token>`. Use `${env:NAME}`.',
          examples: ['${env:SLUICE_AGENT_TOKEN}'],
        },
      },
    },
    controlPlane: controlPlaneConfigSchema,
    allowedRoots: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: [],
      description: 'Folders file and drop sources may read; paths are compared after resolving symbolic links.',
      examples: [['/var/log/app', '/srv/drop']],
    },
    sources: sourcesSchema,
  },
} as const;

export type AgentConfig = FromSchema<typeof agentConfigSchema>;
export type SourceConfig = AgentConfig['sources'][number];
export type SourceType = SourceConfig['type'];
/** The option names of the local part of the agent config (everything but the pipeline). */
export const LOCAL_CONFIG_KEYS = Object.keys(agentConfigSchema.properties).filter((key) => key !== 'sources');
export { pipelineConfigSchema, sourcesSchema, type PipelineConfig } from './pipeline.ts';
export type { FileSourceConfig } from './file.ts';
export type { DropSourceConfig } from './drop.ts';
export type { HttpPollSourceConfig } from './http-poll.ts';
export type { HttpPushSourceConfig } from './http-push.ts';
export type { MqttSourceConfig } from './mqtt.ts';
