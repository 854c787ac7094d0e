import type { FromSchema } from 'json-schema-to-ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

export const httpPushSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'token'],
  description:
    "Receives batches at `POST /v1/ingest/<dataset>` on the agent's HTTP server: a JSON array or NDJSON, size-limited, protected by a bearer token. The answer is 200 only once the batch is durably in the outbox.",
  examples: [{ type: 'http-push', id: 'sensors', dataset: 'sensor_readings', token: '${env:SLUICE_PUSH_TOKEN}' }],
  properties: {
    type: { const: 'http-push' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    token: {
      type: 'string',
      minLength: 16,
      description: 'The bearer token senders must present (compared in constant time). Use `${env:NAME}`.',
      examples: ['${env:SLUICE_PUSH_TOKEN}'],
    },
    maxBodyBytes: { type: 'integer', minimum: 1, default: 10 * 1024 * 1024, description: 'A larger request body is refused with 413.' },
    maxRecords: { type: 'integer', minimum: 1, default: 100_000, description: 'A batch with more records is refused with 413.' },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024, description: 'A larger record is shipped as a parseError record (to the DLQ) with its first bytes.' },
  },
} as const;

export type HttpPushSourceConfig = FromSchema<typeof httpPushSourceConfigSchema>;
