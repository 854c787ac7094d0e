import type { FromSchema } from 'json-schema-to-ts';
import { JSON_POINTER_PATTERN } from './json-pointer.ts';

/**
 * Per-dataset transforms and quality rules (docs/transforms.md), stored with each schema version: the
 * consumer applies the version's transforms after decoding a record and before its event time and schema
 * check, and its rules after the schema check. Expressions are JSONata, evaluated with a time limit.
 */

const pointer = { type: 'string', pattern: JSON_POINTER_PATTERN, minLength: 1, maxLength: 500 } as const;
const expression = { type: 'string', minLength: 1, maxLength: 4000, description: 'a JSONata expression over the payload (`$envelope` is the record\'s envelope)' } as const;
const timeoutMs = { type: 'integer', minimum: 1, maximum: 1000, description: 'one evaluation may take this long (default 50); a record that takes longer goes to the DLQ' } as const;

/** What a transform may copy from the envelope or the fleet into the payload. */
export const ENRICH_FROM = ['agentId', 'agentLabels', 'dataset', 'source', 'ingestTime', 'eventTime'] as const;

const one = <K extends string, V>(key: K, value: V) =>
  ({ type: 'object', additionalProperties: false, required: [key], properties: { [key]: value } }) as unknown as {
    type: 'object';
    additionalProperties: false;
    required: [K];
    properties: { [P in K]: V };
  };

export const transformSchema = {
  oneOf: [
    one('rename', { type: 'object', additionalProperties: false, required: ['from', 'to'], properties: { from: pointer, to: pointer } } as const),
    one('drop', { type: 'array', minItems: 1, maxItems: 100, items: pointer } as const),
    one('set', { type: 'object', additionalProperties: false, required: ['field', 'value'], properties: { field: pointer, value: {} } } as const),
    one('derive', { type: 'object', additionalProperties: false, required: ['field', 'expression'], properties: { field: pointer, expression, timeoutMs } } as const),
    one('enrich', { type: 'object', additionalProperties: false, required: ['field', 'from'], properties: { field: pointer, from: { enum: ENRICH_FROM } } } as const),
    one('lookup', {
      type: 'object',
      additionalProperties: false,
      required: ['table', 'key', 'into'],
      properties: {
        table: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$', description: 'a lookup table (PUT /api/v1/lookups/{name})' },
        key: { ...pointer, description: 'the payload field whose value is looked up' },
        into: { ...pointer, description: "where the row's value goes" },
        missing: { enum: ['keep', 'null', 'fail'], description: 'no row for the key (default keep): leave the field out, set it to null, or dead-letter the record' },
      },
    } as const),
  ],
} as const;

export const transformsSchema = { type: 'array', maxItems: 50, items: transformSchema } as const;

const checks = {
  notEmpty: { ...pointer, description: 'the field is present and not null, "" or []' },
  requiredIf: {
    type: 'object',
    additionalProperties: false,
    required: ['field', 'when'],
    description: '`field` must be present (not null) when `when.field` equals `when.equals`',
    properties: {
      field: pointer,
      when: { type: 'object', additionalProperties: false, required: ['field', 'equals'], properties: { field: pointer, equals: {} } },
    },
  },
  range: {
    type: 'object',
    additionalProperties: false,
    required: ['field'],
    description: 'a number within [min, max]; a missing field passes (use notEmpty for that)',
    properties: { field: pointer, min: { type: 'number' }, max: { type: 'number' } },
  },
  allowed: {
    type: 'object',
    additionalProperties: false,
    required: ['field', 'values'],
    description: 'the value is one of `values`; a missing field passes',
    properties: { field: pointer, values: { type: 'array', minItems: 1, maxItems: 1000 } },
  },
  unique: {
    type: 'object',
    additionalProperties: false,
    required: ['field'],
    description: 'no other record had this value within the last `windowMinutes` (as seen by this consumer process)',
    properties: { field: pointer, windowMinutes: { type: 'integer', minimum: 1, maximum: 1440, description: 'default 60' } },
  },
  freshness: {
    type: 'object',
    additionalProperties: false,
    description: 'event time at most `maxAgeSeconds` before and `maxFutureSeconds` after ingest time',
    properties: { maxAgeSeconds: { type: 'integer', minimum: 1 }, maxFutureSeconds: { type: 'integer', minimum: 0 } },
  },
  expression: {
    type: 'object',
    additionalProperties: false,
    required: ['expression'],
    description: 'a JSONata expression that must be true (cross-field checks, business rules)',
    properties: { expression, timeoutMs },
  },
} as const;

export const QUALITY_CHECKS = Object.keys(checks) as Array<keyof typeof checks>;

const qualityRuleProperties = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  minProperties: 2,
  maxProperties: 3,
  properties: {
    name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' },
    severity: { enum: ['warn', 'fail'], description: 'fail (default): the record goes to the DLQ with the rule name; warn: it is loaded and counted' },
    ...checks,
  },
} as const;

/** A rule: its name, its severity and exactly one check. */
export const qualityRuleSchema = { ...qualityRuleProperties, oneOf: QUALITY_CHECKS.map((check) => ({ required: [check] })) } as const;

export const qualityRulesSchema = { type: 'array', maxItems: 50, items: qualityRuleSchema } as const;

export type TransformSpec = FromSchema<typeof transformSchema, { keepDefaultedPropertiesOptional: true }>;
export type QualityRule = FromSchema<typeof qualityRuleProperties, { keepDefaultedPropertiesOptional: true }>;
export type EnrichFrom = (typeof ENRICH_FROM)[number];
