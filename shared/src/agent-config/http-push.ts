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
    websocket: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'A WebSocket stream on the same path (`ws://<agent>/v1/ingest/<dataset>`, same token): each message is a batch (a JSON array, or one value), acknowledged with `{"ack": <n>}` once committed. While the outbox is full acks are withheld and the socket is not read; after `fullTimeoutMs` the agent closes with code 1013.',
      examples: [{ enabled: true }],
      properties: {
        enabled: { type: 'boolean', default: false, description: 'Accept WebSocket streams.' },
        maxMessageBytes: { type: 'integer', minimum: 64, default: 1024 * 1024, description: 'A larger message closes the stream with code 1009.' },
        maxPending: { type: 'integer', minimum: 1, maximum: 10_000, default: 256, description: 'Messages received and not yet acknowledged, per stream, before the agent stops reading it.' },
        fullTimeoutMs: { type: 'integer', minimum: 100, default: 30_000, description: 'How long a stream waits for outbox room before it is closed (1013, try again later).' },
        maxStreams: { type: 'integer', minimum: 1, default: 1000, description: 'Open streams at most; more are refused with 503.' },
      },
    },
  },
} as const;

export type HttpPushSourceConfig = FromSchema<typeof httpPushSourceConfigSchema>;
