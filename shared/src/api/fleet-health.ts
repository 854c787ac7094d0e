import type { FromSchema } from 'json-schema-to-ts';

/**
 * Responses of GET /api/v1/fleet/summary (the fleet at a glance) and GET /api/v1/pipeline/health (per
 * dataset: throughput, failures, sink errors and consumer lag over the last minutes).
 */

const dateTime = { type: 'string', format: 'date-time' } as const;
const counts = { type: 'object', additionalProperties: { type: 'integer' } } as const;

export const fleetSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['at', 'thresholds', 'agents', 'versions', 'drift', 'applyStates'],
  properties: {
    at: { ...dateTime, description: 'the database time the summary was taken at' },
    thresholds: {
      type: 'object',
      additionalProperties: false,
      required: ['staleSeconds', 'offlineSeconds'],
      properties: {
        staleSeconds: { type: 'integer', description: 'an agent whose last check-in is older is stale' },
        offlineSeconds: { type: 'integer', description: 'an agent whose last check-in is older (or that never checked in) is offline' },
      },
    },
    agents: {
      type: 'object',
      additionalProperties: false,
      required: ['total', 'online', 'stale', 'offline', 'neverCheckedIn', 'revoked'],
      properties: {
        total: { type: 'integer', description: 'enrolled agents, revoked ones included' },
        online: { type: 'integer' },
        stale: { type: 'integer' },
        offline: { type: 'integer', description: 'includes the agents that never checked in' },
        neverCheckedIn: { type: 'integer' },
        revoked: { type: 'integer', description: 'revoked agents count here only' },
      },
    },
    versions: { ...counts, description: 'agent version -> active agents running it (`unknown` before the first report)' },
    drift: { type: 'integer', description: 'active agents not running their desired revision, or that never checked in' },
    applyStates: { ...counts, description: 'last reported apply state -> active agents (`unknown` before the first report)' },
  },
} as const;

const sinkErrorsSchema = {
  type: 'object',
  description: 'per sink: writes that did not succeed (an outage; retried) and records the sink refused (dead-lettered)',
  additionalProperties: {
    type: 'object',
    additionalProperties: false,
    required: ['failedWrites', 'rejected'],
    properties: { failedWrites: { type: 'integer' }, rejected: { type: 'integer' } },
  },
} as const;

const windowCounts = {
  ingested: { type: 'integer', description: 'records written to every sink of the dataset' },
  deadLettered: { type: 'integer', description: 'records that went to the DLQ, for any reason' },
  validationFailures: { type: 'integer', description: 'dead-lettered at intake: not an envelope, unknown dataset, unparsed at the source, too large, unstorable, schema mismatch' },
  sinkErrors: sinkErrorsSchema,
} as const;

const windowCountNames = ['ingested', 'deadLettered', 'validationFailures', 'sinkErrors'] as const;

const nullableSeconds = { type: ['number', 'null'], description: 'age in seconds of the oldest record not yet consumed; null when nothing waits or it could not be read' } as const;

export const consumerLagViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['records', 'seconds', 'partitions'],
  properties: {
    records: { type: 'integer', description: 'records behind the log end, all partitions' },
    seconds: { ...nullableSeconds, description: 'the largest partition lag in seconds' },
    partitions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['partition', 'records', 'seconds'],
        properties: { partition: { type: 'integer' }, records: { type: 'integer' }, seconds: nullableSeconds },
      },
    },
  },
} as const;

export const datasetHealthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'totals', 'deadLetteredByKind', 'perMinute', 'lag'],
  properties: {
    dataset: { type: 'string' },
    totals: { type: 'object', additionalProperties: false, required: windowCountNames, properties: windowCounts },
    deadLetteredByKind: { ...counts, description: 'DLQ reason kind -> records, over the window' },
    perMinute: {
      type: 'array',
      description: 'minutes with any activity, oldest first',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['minute', ...windowCountNames],
        properties: { minute: dateTime, ...windowCounts },
      },
    },
    lag: { anyOf: [consumerLagViewSchema, { type: 'null' }], description: "the consumer group's lag on the dataset's topic (null: no topic yet, or Kafka could not say)" },
  },
} as const;

export const pipelineHealthReportSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['minutes', 'at', 'datasets', 'lagError'],
  properties: {
    minutes: { type: 'integer' },
    at: dateTime,
    datasets: { type: 'array', items: datasetHealthSchema },
    lagError: { type: ['string', 'null'], description: 'why Kafka could not report the consumer lag, if it could not' },
  },
} as const;

export const pipelineHealthQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { minutes: { type: 'integer', minimum: 1, maximum: 1440, default: 60 } },
} as const;

export type FleetSummary = FromSchema<typeof fleetSummarySchema>;
export type ConsumerLagView = FromSchema<typeof consumerLagViewSchema>;
export type DatasetHealth = FromSchema<typeof datasetHealthSchema>;
export type PipelineHealthReport = FromSchema<typeof pipelineHealthReportSchema>;
