import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from '../json-pointer.ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

/** Secret-bearing strings may be `${env:NAME}`; the config loader substitutes them before validation. */
const secret = { type: 'string', minLength: 1 } as const;

/**
 * A polled REST endpoint: paginated, incremental (watermark persisted with the records), behind a circuit
 * breaker, retried with jittered backoff that honours Retry-After, and rate limited. Record ids come from
 * `idField` or the record's content, so a full (non-incremental) re-poll names the same records the same.
 */
export const httpPollSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'url'],
  properties: {
    type: { const: 'http-poll' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    url: { type: 'string', pattern: '^https?://' },
    method: { enum: ['GET', 'POST'], default: 'GET' },
    headers: { type: 'object', additionalProperties: { type: 'string' } },
    intervalMs: { type: 'integer', minimum: 100, default: 60_000 },
    auth: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['bearer'],
          properties: { bearer: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: secret } } },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['basic'],
          properties: {
            basic: {
              type: 'object',
              additionalProperties: false,
              required: ['username', 'password'],
              properties: { username: { type: 'string', minLength: 1 }, password: secret },
            },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['apiKey'],
          properties: {
            apiKey: {
              type: 'object',
              additionalProperties: false,
              required: ['header', 'value'],
              properties: { header: { type: 'string', minLength: 1 }, value: secret },
            },
          },
        },
      ],
    },
    recordsPath: { type: 'string', default: '', description: "dot path into the JSON body; '' = the body is the array" },
    idField: {
      type: 'string',
      pattern: JSON_POINTER_PATTERN,
      description:
        "JSON pointer (RFC 6901, e.g. '/id') to each record's own key: its value is the record's identity. Without it a record is identified by a hash of its content and the endpoint.",
    },
    pagination: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { enum: ['none', 'link-header'] } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'cursorPath', 'param'],
          properties: {
            type: { const: 'cursor' },
            cursorPath: { type: 'string', minLength: 1, description: 'dot path of the next cursor in the body' },
            param: { type: 'string', minLength: 1 },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'param'],
          properties: {
            type: { const: 'page' },
            param: { type: 'string', minLength: 1 },
            sizeParam: { type: 'string', minLength: 1 },
            size: { type: 'integer', minimum: 1, default: 100 },
            startAt: { type: 'integer', minimum: 0, default: 1 },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['type', 'param', 'limitParam'],
          properties: {
            type: { const: 'offset' },
            param: { type: 'string', minLength: 1 },
            limitParam: { type: 'string', minLength: 1 },
            limit: { type: 'integer', minimum: 1, default: 100 },
          },
        },
      ],
    },
    incremental: {
      type: 'object',
      additionalProperties: false,
      required: ['param', 'fromPath'],
      properties: {
        param: { type: 'string', minLength: 1, description: 'query parameter carrying the watermark' },
        fromPath: { type: 'string', minLength: 1, description: 'dot path in each record giving the next watermark' },
        initial: { type: 'string' },
      },
    },
    breaker: {
      type: 'object',
      additionalProperties: false,
      properties: {
        timeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
        errorThresholdPercentage: { type: 'number', minimum: 1, maximum: 100, default: 50 },
        resetTimeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
        volumeThreshold: { type: 'integer', minimum: 0, default: 5 },
      },
    },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: {
        retries: { type: 'integer', minimum: 0, maximum: 100, default: 5 },
        minDelayMs: { type: 'integer', minimum: 0, default: 500 },
        maxDelayMs: { type: 'integer', minimum: 0, default: 30_000 },
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['requestsPerSecond'],
      properties: { requestsPerSecond: { type: 'number', exclusiveMinimum: 0 } },
    },
    timeoutMs: { type: 'integer', minimum: 1, default: 30_000 },
    maxResponseBytes: { type: 'integer', minimum: 1, default: 64 * 1024 * 1024 },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024 },
  },
} as const;

/** Defaults may not be applied inside the config's oneOf (ajv), so they stay optional here and the source falls back in code. */
export type HttpPollSourceConfig = FromSchema<typeof httpPollSourceConfigSchema, { keepDefaultedPropertiesOptional: true }>;
