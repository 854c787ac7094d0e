import type { FromSchema } from 'json-schema-to-ts';
import { paginationSchema } from '../agent-config/http-poll.ts';
import { JSON_POINTER_PATTERN } from '../json-pointer.ts';

/**
 * Ingestion jobs (/api/v1/ingestion/jobs): what a job reads (`source`, one schema per kind), its state and
 * its progress. The control plane's job kinds check `source` against these schemas; the registry may hold
 * more kinds (compaction) with their own.
 */

const dateTime = { type: 'string', format: 'date-time' } as const;
const datasetName = { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' } as const;

export const JOB_STATES = ['created', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** How the records of a file are laid out: NDJSON (one JSON value a line), a JSON array, or decided by the first byte. */
const format = { enum: ['auto', 'ndjson', 'json'], default: 'auto', description: 'auto: a file starting with `[` is a JSON array, any other NDJSON; `.gz` names are gunzipped first' } as const;

export const s3SourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'bucket'],
  properties: {
    kind: { const: 's3' },
    endpoint: { type: 'string', pattern: '^https?://[^\\s/]+/?$', maxLength: 500, description: "the S3 store's URL (any S3-compatible store); default the control plane's own (SLUICE_S3_ENDPOINT)" },
    region: { type: 'string', maxLength: 64 },
    bucket: { type: 'string', pattern: '^[a-z0-9][a-z0-9.-]{1,62}$' },
    prefix: { type: 'string', maxLength: 1024, default: '', description: 'every object under it (recursively) is read, in key order' },
    accessKeyEnv: { type: 'string', pattern: '^SLUICE_JOB_[A-Z0-9_]{1,100}$', description: "the worker's environment variable holding the access key (default the control plane's own S3 keys)" },
    secretKeyEnv: { type: 'string', pattern: '^SLUICE_JOB_[A-Z0-9_]{1,100}$' },
    format,
  },
} as const;

export const folderSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'path'],
  properties: {
    kind: { const: 'folder' },
    path: { type: 'string', minLength: 1, maxLength: 4096, description: 'an absolute folder under one of SLUICE_JOB_FOLDER_ROOTS; read recursively, symlinks out of the roots refused' },
    suffix: { type: 'string', maxLength: 64, description: 'only files whose name ends with it (e.g. `.ndjson`)' },
    format,
  },
} as const;

export const urlsSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'urls'],
  properties: {
    kind: { const: 'urls' },
    urls: { type: 'array', minItems: 1, maxItems: 10_000, uniqueItems: true, items: { type: 'string', pattern: '^https?://', maxLength: 4096 } },
    format,
  },
} as const;

export const kafkaSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'topic', 'ranges'],
  properties: {
    kind: { const: 'kafka' },
    topic: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' },
    ranges: {
      type: 'array',
      minItems: 1,
      maxItems: 1000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['partition', 'from', 'to'],
        properties: {
          partition: { type: 'integer', minimum: 0, maximum: 100_000 },
          from: { type: 'integer', minimum: 0, description: 'first offset, included' },
          to: { type: 'integer', minimum: 0, description: 'last offset, excluded' },
        },
      },
    },
  },
} as const;

/** A secret of a `rest` job: the name of the worker's environment variable holding it, never the value. */
const secretEnv = { type: 'string', pattern: '^SLUICE_JOB_[A-Z0-9_]{1,100}$', description: "the worker's environment variable holding the secret" } as const;

export const restSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'url'],
  properties: {
    kind: { const: 'rest' },
    url: { type: 'string', pattern: '^https?://', maxLength: 4096, description: 'the endpoint, with any fixed query parameters' },
    headers: { type: 'object', maxProperties: 32, additionalProperties: { type: 'string', maxLength: 4096 }, description: 'extra request headers (no secrets: use `auth`)' },
    auth: {
      description: '`bearerEnv`, `basic: { username, passwordEnv }` or `apiKey: { header, valueEnv }`',
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['bearerEnv'], properties: { bearerEnv: secretEnv } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['basic'],
          properties: {
            basic: { type: 'object', additionalProperties: false, required: ['username', 'passwordEnv'], properties: { username: { type: 'string', minLength: 1, maxLength: 200 }, passwordEnv: secretEnv } },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['apiKey'],
          properties: {
            apiKey: { type: 'object', additionalProperties: false, required: ['header', 'valueEnv'], properties: { header: { type: 'string', minLength: 1, maxLength: 200 }, valueEnv: secretEnv } },
          },
        },
      ],
    },
    recordsPath: { type: 'string', maxLength: 500, default: '', description: "dot path to the array of records in each page; '' means the page is the array" },
    idField: { type: 'string', pattern: JSON_POINTER_PATTERN, maxLength: 500, description: "JSON pointer to each record's own key (else the record's content and the endpoint name it)" },
    pagination: paginationSchema,
    range: {
      type: 'object',
      additionalProperties: false,
      required: ['param', 'from', 'to'],
      description: 'a time range, cut into slices of `sliceMinutes`; each slice is one batch that walks its pages',
      properties: {
        param: { type: 'string', minLength: 1, maxLength: 200, description: 'query parameter of a slice start (e.g. `updated_since`)' },
        toParam: { type: 'string', minLength: 1, maxLength: 200, description: 'query parameter of a slice end, excluded (e.g. `updated_before`); without it the range is one slice' },
        from: dateTime,
        to: dateTime,
        sliceMinutes: { type: 'integer', minimum: 1, maximum: 525_600, default: 1440 },
      },
    },
    maxPages: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 10_000, description: 'pages a batch follows at most (a loop in the API stops here, reported as the batch error)' },
  },
} as const;

export type S3Source = FromSchema<typeof s3SourceSchema>;
export type FolderSource = FromSchema<typeof folderSourceSchema>;
export type UrlsSource = FromSchema<typeof urlsSourceSchema>;
export type KafkaSource = FromSchema<typeof kafkaSourceSchema>;
export type RestSource = FromSchema<typeof restSourceSchema>;

export const createJobBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dataset', 'source'],
  properties: {
    dataset: datasetName,
    source: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,40}$' } },
      description: 'one of the kinds: s3, folder, urls, rest, kafka (and the kinds other features register, e.g. compaction); see docs/lake.md',
    },
    start: { type: 'boolean', default: false, description: 'start at once (else POST .../start)' },
  },
} as const;
export type CreateJobBody = FromSchema<typeof createJobBodySchema>;

const batchCounts = {
  type: 'object',
  additionalProperties: false,
  required: ['total', 'pending', 'running', 'done', 'failed', 'cancelled'],
  properties: {
    total: { type: 'integer' },
    pending: { type: 'integer' },
    running: { type: 'integer' },
    done: { type: 'integer' },
    failed: { type: 'integer' },
    cancelled: { type: 'integer' },
  },
} as const;

export const jobProgressSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['batches', 'records', 'bytes', 'plannedRecords', 'plannedBytes', 'recordsPerSecond', 'bytesPerSecond', 'percent', 'etaSeconds'],
  properties: {
    batches: batchCounts,
    records: { type: 'integer', description: 'published so far (batches done, plus the running ones so far)' },
    bytes: { type: 'integer', description: 'source bytes read so far' },
    plannedRecords: { type: ['integer', 'null'], description: 'when the source says (Kafka ranges)' },
    plannedBytes: { type: ['integer', 'null'], description: 'when the source says (object and file sizes)' },
    recordsPerSecond: { type: 'number' },
    bytesPerSecond: { type: 'number' },
    percent: { type: ['number', 'null'] },
    etaSeconds: { type: ['number', 'null'], description: 'at the rate so far; null before the first batch ends or once finished' },
  },
} as const;

export const batchErrorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['seq', 'key', 'state', 'attempts', 'error', 'recordErrors'],
  properties: {
    seq: { type: 'integer' },
    key: { type: 'string' },
    state: { enum: ['pending', 'running', 'done', 'failed', 'cancelled'] },
    attempts: { type: 'integer' },
    error: { type: ['string', 'null'], description: 'why the batch failed (or its last failed attempt, if it is retried)' },
    recordErrors: {
      type: 'array',
      description: 'records of the batch that were not records (bad JSON, too large): dead-lettered, listed here (first 100)',
      items: { type: 'object', additionalProperties: false, required: ['position', 'reason'], properties: { position: { type: 'string' }, reason: { type: 'string' } } },
    },
  },
} as const;

const jobProperties = {
  id: { type: 'string' },
  dataset: datasetName,
  kind: { type: 'string' },
  source: { type: 'object', additionalProperties: true },
  state: { enum: JOB_STATES },
  error: { type: ['string', 'null'] },
  createdBy: { type: 'string' },
  createdAt: dateTime,
  startedAt: { type: ['string', 'null'], format: 'date-time' },
  plannedAt: { type: ['string', 'null'], format: 'date-time' },
  finishedAt: { type: ['string', 'null'], format: 'date-time' },
  progress: jobProgressSchema,
} as const;
const jobRequired = ['id', 'dataset', 'kind', 'source', 'state', 'error', 'createdBy', 'createdAt', 'startedAt', 'plannedAt', 'finishedAt', 'progress'] as const;

export const jobSummarySchema = { type: 'object', additionalProperties: false, required: jobRequired, properties: jobProperties } as const;

export const jobViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...jobRequired, 'errors'],
  properties: { ...jobProperties, errors: { type: 'array', items: batchErrorSchema, description: 'batches with an error or record errors (first 100)' } },
} as const;

export const jobListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items', 'nextCursor'],
  properties: {
    items: { type: 'array', items: jobSummarySchema },
    nextCursor: { type: ['string', 'null'], description: 'pass as ?cursor= for the next page; null on the last' },
  },
} as const;

export const jobListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { enum: JOB_STATES },
    dataset: datasetName,
    kind: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,40}$' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 200 },
  },
} as const;

export const workerListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: {
    items: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'maxJobs', 'startedAt', 'heartbeatAt', 'runningBatches'],
        properties: { id: { type: 'string' }, maxJobs: { type: 'integer' }, startedAt: dateTime, heartbeatAt: dateTime, runningBatches: { type: 'integer' } },
      },
    },
  },
} as const;

export type JobProgress = FromSchema<typeof jobProgressSchema>;
export type JobSummary = FromSchema<typeof jobSummarySchema>;
export type JobViewResponse = FromSchema<typeof jobViewSchema>;
export type JobListResponse = FromSchema<typeof jobListSchema>;
export type JobListQuery = FromSchema<typeof jobListQuerySchema>;
export type WorkerListResponse = FromSchema<typeof workerListSchema>;
