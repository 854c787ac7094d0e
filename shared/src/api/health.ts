import type { FromSchema } from 'json-schema-to-ts';

/** Responses of the health endpoints: liveness, readiness and the pipeline summary at /api/v1/health. */
export const livenessSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { const: 'ok' } },
} as const;

export const readinessSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { const: 'ready' } },
} as const;

const consumerLagSchema = {
  description: 'records behind per topic partition, or why Kafka could not say',
  anyOf: [
    {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['topic', 'partition', 'lag'],
        properties: { topic: { type: 'string' }, partition: { type: 'integer' }, lag: { type: 'integer' } },
      },
    },
    { type: 'object', additionalProperties: false, required: ['error'], properties: { error: { type: 'string' } } },
  ],
} as const;

export const pipelineHealthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['minutes', 'datasets', 'dlq', 'consumerLag'],
  properties: {
    minutes: { type: 'integer' },
    datasets: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['dataset', 'perMinute'],
        properties: {
          dataset: { type: 'string' },
          perMinute: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['minute', 'ingested', 'failed'],
              properties: { minute: { type: 'string', format: 'date-time' }, ingested: { type: 'integer' }, failed: { type: 'integer' } },
            },
          },
        },
      },
    },
    dlq: {
      type: 'object',
      additionalProperties: false,
      required: ['size', 'byDataset'],
      properties: {
        size: { type: 'integer', description: 'entries not yet replayed' },
        byDataset: { type: 'object', additionalProperties: { type: 'integer' } },
      },
    },
    consumerLag: consumerLagSchema,
  },
} as const;

export type LivenessResponse = FromSchema<typeof livenessSchema>;
export type ReadinessResponse = FromSchema<typeof readinessSchema>;
export type PipelineHealthResponse = FromSchema<typeof pipelineHealthSchema>;
