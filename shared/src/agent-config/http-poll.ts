import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from '../json-pointer.ts';
import { datasetProperty, sourceIdProperty } from './common.ts';

// The config loader substitutes `${env:NAME}` before validation, so a secret never has to be in the file.
const secret = { type: 'string', minLength: 1, description: 'Use `${env:NAME}`.' } as const;

/** How the next page of a paged REST answer is found (shared/node/http-pagination.ts); also used by `rest` ingestion jobs. */
export const paginationSchema = {
  type: 'object',
  discriminator: { propertyName: 'type' },
  required: ['type'],
  properties: { type: { enum: ['none', 'link-header', 'cursor', 'page', 'offset'] } },
  default: { type: 'none' },
  description:
    'How the next page is found: `none`; `link-header` (RFC 8288 `rel=next`); `cursor` (`cursorPath` in the body, sent back as `param`); `page` (`param` counts from `startAt`, `sizeParam`=`size`); `offset` (`param` advances by the records received, `limitParam`=`limit`). A page shorter than its size ends the chain.',
  examples: [{ type: 'cursor', cursorPath: 'meta.next', param: 'cursor' }],
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['type'], properties: { type: { enum: ['none', 'link-header'] } } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'cursorPath', 'param'],
      properties: {
        type: { const: 'cursor' },
        cursorPath: { type: 'string', minLength: 1, description: 'Dot path of the next cursor in the body.' },
        param: { type: 'string', minLength: 1, description: 'Query parameter the cursor is sent in.' },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'param'],
      properties: {
        type: { const: 'page' },
        param: { type: 'string', minLength: 1, description: 'Query parameter of the page number.' },
        sizeParam: { type: 'string', minLength: 1, description: 'Query parameter of the page size; with it, a page shorter than `size` is the last.' },
        size: { type: 'integer', minimum: 1, default: 100, description: 'Page size sent in `sizeParam`.' },
        startAt: { type: 'integer', minimum: 0, default: 1, description: 'Number of the first page.' },
      },
    },
    {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'param', 'limitParam'],
      properties: {
        type: { const: 'offset' },
        param: { type: 'string', minLength: 1, description: 'Query parameter of the offset (0 first, then advanced by the records received).' },
        limitParam: { type: 'string', minLength: 1, description: 'Query parameter of the page size.' },
        limit: { type: 'integer', minimum: 1, default: 100, description: 'Page size; a page shorter than this is the last.' },
      },
    },
  ],
} as const;

export const httpPollSourceConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id', 'dataset', 'url'],
  description:
    "Polls a REST endpoint: paginated, incremental (the watermark is committed with the records), behind a circuit breaker, retried with jittered backoff that honours Retry-After, and rate limited. Record ids come from `idField` or the record's content, so a full re-poll names the same records the same.",
  examples: [
    {
      type: 'http-poll',
      id: 'items',
      dataset: 'items',
      url: 'https://api.example.com/v1/items',
      intervalMs: 60_000,
      auth: { bearer: { token: '${env:ITEMS_API_TOKEN}' } },
      recordsPath: 'data.items',
      idField: '/id',
      pagination: { type: 'cursor', cursorPath: 'meta.next', param: 'cursor' },
      incremental: { param: 'updated_since', fromPath: 'updatedAt', initial: '2024-01-01T00:00:00Z' },
    },
  ],
  properties: {
    type: { const: 'http-poll' },
    id: sourceIdProperty,
    dataset: datasetProperty,
    url: { type: 'string', pattern: '^https?://', description: 'The endpoint, with any fixed query parameters.', examples: ['https://api.example.com/v1/items?status=open'] },
    method: { enum: ['GET', 'POST'], default: 'GET', description: 'HTTP method.' },
    headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Extra request headers.', examples: [{ 'x-tenant': 'acme' }] },
    intervalMs: { type: 'integer', minimum: 100, default: 60_000, description: 'Wait after one poll (which follows every page) before the next.' },
    auth: {
      description: 'One of `bearer: { token }`, `basic: { username, password }`, `apiKey: { header, value }`.',
      examples: [{ bearer: { token: '${env:ITEMS_API_TOKEN}' } }],
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
    recordsPath: { type: 'string', default: '', description: "Dot path to the array of records in the JSON body; '' means the body is the array.", examples: ['data.items'] },
    idField: {
      type: 'string',
      pattern: JSON_POINTER_PATTERN,
      description:
        "JSON pointer (RFC 6901) to each record's own key: its value is the record's identity. Without it a record is identified by a hash of its content and the endpoint.",
      examples: ['/id'],
    },
    pagination: paginationSchema,
    incremental: {
      type: 'object',
      additionalProperties: false,
      required: ['param', 'fromPath'],
      description: 'Asks only for what changed since the last poll: the highest `fromPath` seen is sent as `param` on the next one.',
      examples: [{ param: 'updated_since', fromPath: 'updatedAt', initial: '2024-01-01T00:00:00Z' }],
      properties: {
        param: { type: 'string', minLength: 1, description: 'Query parameter carrying the watermark.' },
        fromPath: { type: 'string', minLength: 1, description: 'Dot path in each record giving the next watermark.' },
        initial: { type: 'string', description: 'The watermark of the very first poll; without it the first poll asks for everything.' },
      },
    },
    breaker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The circuit breaker: it opens when too many requests fail (a 4xx other than 408 does not count), and lets one through after `resetTimeoutMs`.',
      properties: {
        timeoutMs: { type: 'integer', minimum: 1, default: 30_000, description: 'A request slower than this counts as failed.' },
        errorThresholdPercentage: { type: 'number', minimum: 1, maximum: 100, default: 50, description: 'Share of failed requests that opens the breaker.' },
        resetTimeoutMs: { type: 'integer', minimum: 1, default: 30_000, description: 'How long the breaker stays open before it tries again.' },
        volumeThreshold: { type: 'integer', minimum: 0, default: 5, description: 'Requests needed before the breaker may open.' },
      },
    },
    retry: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Retries of one page (timeouts, 408, 429, 5xx) with jittered exponential backoff; Retry-After is honoured.',
      properties: {
        retries: { type: 'integer', minimum: 0, maximum: 100, default: 5, description: 'Retries before the poll fails (and waits for the next interval).' },
        minDelayMs: { type: 'integer', minimum: 0, default: 500, description: 'First backoff delay.' },
        maxDelayMs: { type: 'integer', minimum: 0, default: 30_000, description: 'Longest backoff delay.' },
      },
    },
    rateLimit: {
      type: 'object',
      additionalProperties: false,
      required: ['requestsPerSecond'],
      description: 'Caps the request rate (a token bucket), retries included.',
      properties: { requestsPerSecond: { type: 'number', exclusiveMinimum: 0, description: 'Requests per second.', examples: [5] } },
    },
    timeoutMs: { type: 'integer', minimum: 1, default: 30_000, description: 'Timeout of one request.' },
    maxResponseBytes: { type: 'integer', minimum: 1, default: 64 * 1024 * 1024, description: 'A larger response is cut off and the page fails.' },
    maxRecordBytes: { type: 'integer', minimum: 64, default: 1024 * 1024, description: 'A larger record is shipped as a parseError record (to the DLQ).' },
  },
} as const;

export type HttpPollSourceConfig = FromSchema<typeof httpPollSourceConfigSchema>;
