import type { FromSchema } from 'json-schema-to-ts';
import { APPLY_STATES, desiredSchema } from '../fleet/checkin.ts';

/**
 * Requests and responses of /api/v1/enrollment-tokens and /api/v1/agents. Labels are `key: value` strings;
 * policies select agents by them, and only the control plane sets them (from the enrollment token, or an
 * operator's PATCH), never the agent.
 */

/**
 * How recent the last check-in must be for an agent to count as online, or as stale (beyond it: offline):
 * the control plane's SLUICE_AGENT_STALE_SECONDS and SLUICE_AGENT_OFFLINE_SECONDS, these by default. An agent
 * long-polls for up to 30 s and checks in again at once, so 90 s is three missed answers.
 */
export interface ConnectivityThresholds {
  staleSeconds: number;
  offlineSeconds: number;
}
export const DEFAULT_CONNECTIVITY: ConnectivityThresholds = { staleSeconds: 90, offlineSeconds: 300 };
export const AGENT_CONNECTIVITY = ['online', 'stale', 'offline'] as const;
export type AgentConnectivity = (typeof AGENT_CONNECTIVITY)[number];

export const LABEL_KEY_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$';
export const MAX_LABELS = 64;

export const labelsSchema = {
  type: 'object',
  maxProperties: MAX_LABELS,
  propertyNames: { pattern: LABEL_KEY_PATTERN },
  additionalProperties: { type: 'string', maxLength: 128 },
  description: 'key: value; policies select agents by them',
  examples: [{ site: 'berlin', role: 'gateway' }],
} as const;

const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const enrollmentTokenCreateSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100, description: 'what the token is for, e.g. a provisioning batch' },
    expiresInSeconds: { type: 'integer', minimum: 60, maximum: 366 * 24 * 3600, default: 24 * 3600 },
    maxUses: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 1, description: 'how many agents may enroll with it' },
    labels: { ...labelsSchema, default: {} },
  },
} as const;

const enrollmentTokenProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  labels: labelsSchema,
  expiresAt: dateTime,
  maxUses: { type: 'integer' },
  uses: { type: 'integer' },
  revokedAt: nullableDateTime,
  createdBy: { type: 'string', description: 'the actor that created it, `kind:id`' },
  createdAt: dateTime,
  state: { enum: ['active', 'expired', 'revoked', 'exhausted'] },
} as const;
const enrollmentTokenRequired = ['id', 'name', 'labels', 'expiresAt', 'maxUses', 'uses', 'revokedAt', 'createdBy', 'createdAt', 'state'] as const;

export const enrollmentTokenSchema = {
  type: 'object',
  additionalProperties: false,
  required: enrollmentTokenRequired,
  properties: enrollmentTokenProperties,
} as const;

/** The created token: the only answer that carries the secret. */
export const enrollmentTokenCreatedSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...enrollmentTokenRequired, 'token'],
  properties: { ...enrollmentTokenProperties, token: { type: 'string', description: 'the token (`sle_…`); shown once' } },
} as const;

export const enrollmentTokenListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: { items: { type: 'array', items: enrollmentTokenSchema } },
} as const;

const agentProperties = {
  id: { type: 'string' },
  name: { type: 'string' },
  labels: labelsSchema,
  status: { enum: ['active', 'revoked'] },
  connectivity: {
    enum: AGENT_CONNECTIVITY,
    description: `by the last check-in: online within SLUICE_AGENT_STALE_SECONDS (default ${String(DEFAULT_CONNECTIVITY.staleSeconds)} s), stale within SLUICE_AGENT_OFFLINE_SECONDS (default ${String(DEFAULT_CONNECTIVITY.offlineSeconds)} s), else offline`,
  },
  hostname: { type: 'string' },
  version: { type: 'string' },
  enrolledAt: dateTime,
  revokedAt: nullableDateTime,
  lastSeenAt: nullableDateTime,
  reportedHash: { type: ['string', 'null'], description: 'hash of the pipeline the agent runs' },
  applyState: { anyOf: [{ enum: APPLY_STATES }, { type: 'null' }] },
  applyHash: { type: ['string', 'null'], description: 'the hash the apply state is about: for failed and rolled-back, the one that failed' },
  applyReason: { type: ['string', 'null'] },
  desired: desiredSchema,
  drift: { type: 'boolean', description: 'an active agent that does not run its desired revision, or has not checked in yet' },
  outbox: {
    description: "the agent's outbox at its last check-in (null before the first): rows and bytes waiting to be shipped, and the age of the oldest row then",
    anyOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['rows', 'bytes', 'oldestAgeMs'],
        properties: { rows: { type: 'integer' }, bytes: { type: 'integer' }, oldestAgeMs: { type: ['integer', 'null'] } },
      },
      { type: 'null' },
    ],
  },
} as const;
const agentRequired = [
  'id',
  'name',
  'labels',
  'status',
  'connectivity',
  'hostname',
  'version',
  'enrolledAt',
  'revokedAt',
  'lastSeenAt',
  'reportedHash',
  'applyState',
  'applyHash',
  'applyReason',
  'desired',
  'drift',
  'outbox',
] as const;

export const agentSchema = { type: 'object', additionalProperties: false, required: agentRequired, properties: agentProperties } as const;

export const agentListQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    label: {
      type: 'array',
      items: { type: 'string', pattern: '^[^:]+:.*$' },
      maxItems: MAX_LABELS,
      description: '`key:value`; repeat for several (all must match)',
    },
    status: { enum: [...AGENT_CONNECTIVITY, 'revoked'], description: 'online, stale, offline (active agents by last check-in) or revoked' },
    drift: { type: 'boolean', description: 'only agents (not) on their desired revision' },
    limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 1000 },
    after: { type: 'string', description: 'the last id of the previous page' },
  },
} as const;

export const agentListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['items'],
  properties: { items: { type: 'array', items: agentSchema }, next: { type: 'string', description: 'pass as `after` for the next page' } },
} as const;

export const agentCheckinEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['at', 'configHash', 'applyState', 'health'],
  properties: {
    at: dateTime,
    configHash: { type: ['string', 'null'] },
    applyState: { anyOf: [{ enum: APPLY_STATES }, { type: 'null' }] },
    health: { description: 'the health snapshot of that check-in (see the check-in request)' },
  },
} as const;

export const agentDetailSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...agentRequired, 'health', 'allowedRoots', 'checkins'],
  properties: {
    ...agentProperties,
    health: { description: 'the latest health snapshot, or null before the first check-in' },
    allowedRoots: { type: 'array', items: { type: 'string' } },
    checkins: { type: 'array', items: agentCheckinEntrySchema, description: 'newest first, bounded' },
  },
} as const;

export const agentLabelsPatchSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['labels'],
  properties: { labels: { ...labelsSchema, description: 'replaces every label of the agent' } },
} as const;

export type EnrollmentTokenCreate = FromSchema<typeof enrollmentTokenCreateSchema>;
export type EnrollmentToken = FromSchema<typeof enrollmentTokenSchema>;
export type EnrollmentTokenCreated = FromSchema<typeof enrollmentTokenCreatedSchema>;
export type AgentListQuery = FromSchema<typeof agentListQuerySchema>;
export type AgentSummary = FromSchema<typeof agentSchema>;
export type AgentDetail = FromSchema<typeof agentDetailSchema>;
export type AgentCheckinEntry = FromSchema<typeof agentCheckinEntrySchema>;
export type Labels = Record<string, string>;
