/**
 * Request and response schemas of the policy and rollout routes (control-plane/src/http/routes/policies.ts,
 * rollouts.ts); types derived from them.
 */
import type { FromSchema } from 'json-schema-to-ts';
import { rolloutStrategySchema, ROLLOUT_STATES } from '../fleet/rollout.ts';

export const POLICY_NAME_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,62}$';

const selectorSchema = {
  type: 'object',
  additionalProperties: false,
  default: { labels: {} },
  description: 'The agents the policy selects: those carrying every one of these labels (none = every agent).',
  properties: { labels: { type: 'object', default: {}, maxProperties: 50, additionalProperties: { type: 'string', maxLength: 200 } } },
} as const;

export const createPolicyBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: POLICY_NAME_PATTERN },
    description: { type: 'string', maxLength: 2000, default: '' },
    selector: selectorSchema,
    priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000, default: 0, description: 'When several policies select an agent, the highest wins (ties by name).' },
  },
} as const;

/**
 * PATCH /policies/:name: the fields given replace the stored ones (none defaulted: an absent field stays
 * as it is). A selector or priority change moves agents, so it is refused while a rollout of the policy is active.
 */
export const updatePolicyBodySchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    description: { type: 'string', maxLength: 2000 },
    selector: {
      type: 'object',
      additionalProperties: false,
      required: ['labels'],
      description: selectorSchema.description,
      properties: { labels: { type: 'object', maxProperties: 50, additionalProperties: { type: 'string', maxLength: 200 } } },
    },
    priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000, description: createPolicyBodySchema.properties.priority.description },
  },
} as const;
export type UpdatePolicyBody = FromSchema<typeof updatePolicyBodySchema>;

export const policyViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'selector', 'priority', 'currentRevision', 'createdBy', 'createdAt'],
  properties: {
    name: { type: 'string' },
    description: { type: 'string' },
    selector: { type: 'object', additionalProperties: false, required: ['labels'], properties: { labels: { type: 'object', additionalProperties: { type: 'string' } } } },
    priority: { type: 'integer' },
    currentRevision: { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'the number of the revision agents get when no rollout says otherwise' },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const policyListSchema = { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: policyViewSchema } } } as const;

export const publishBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['config'],
  properties: {
    config: { type: 'object', description: 'the pipeline: `{ sources: [...] }` in the agent config schema' },
    message: { type: 'string', maxLength: 2000, default: '' },
  },
} as const;

const revisionProperties = {
  id: { type: 'integer' },
  policy: { type: 'string' },
  number: { type: 'integer' },
  hash: { type: 'string' },
  message: { type: 'string' },
  createdBy: { type: 'string' },
  createdAt: { type: 'string', format: 'date-time' },
} as const;

export const revisionSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'policy', 'number', 'hash', 'message', 'createdBy', 'createdAt'],
  properties: revisionProperties,
} as const;

export const revisionViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...revisionSummarySchema.required, 'config'],
  properties: { ...revisionProperties, config: { type: 'object', additionalProperties: true, description: 'the defaulted pipeline agents receive' } },
} as const;

export const revisionListSchema = { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: revisionSummarySchema } } } as const;

const problemSchema = { type: 'object', additionalProperties: false, required: ['path', 'reason'], properties: { path: { type: 'string' }, reason: { type: 'string' } } } as const;

export const validateResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ok', 'problems'],
  properties: {
    ok: { type: 'boolean' },
    problems: { type: 'array', items: problemSchema },
    hash: { type: 'string' },
    config: { type: 'object', additionalProperties: true },
  },
} as const;

export const diffResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['policy', 'from', 'to', 'changes'],
  properties: {
    policy: { type: 'string' },
    from: { type: 'integer' },
    to: { type: 'integer' },
    changes: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['op', 'path'],
        properties: { op: { enum: ['added', 'removed', 'changed'] }, path: { type: 'string' }, before: {}, after: {} },
      },
    },
  },
} as const;

export const startRolloutBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['revision', 'strategy'],
  properties: { revision: { type: 'integer', minimum: 1 }, strategy: rolloutStrategySchema },
} as const;

export const policyRollbackBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['revision'],
  properties: { revision: { type: 'integer', minimum: 1 } },
} as const;

export const rolloutViewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'policy', 'fromRevision', 'toRevision', 'strategy', 'state', 'wave', 'waveCount', 'phase', 'phaseStartedAt', 'gateReport', 'reason', 'createdBy', 'createdAt', 'updatedAt', 'finishedAt', 'agents'],
  properties: {
    id: { type: 'integer' },
    policy: { type: 'string' },
    fromRevision: { anyOf: [{ type: 'integer' }, { type: 'null' }] },
    toRevision: { type: 'integer' },
    strategy: { type: 'object', additionalProperties: true },
    state: { enum: ROLLOUT_STATES },
    wave: { type: 'integer', description: 'the wave opened last (0 = canaries), -1 before the first' },
    waveCount: { type: 'integer' },
    phase: { enum: ['applying', 'soaking'] },
    phaseStartedAt: { type: 'string', format: 'date-time' },
    gateReport: { description: 'the last gate evaluation: verdict, reason, per-agent problems and rates' },
    reason: { anyOf: [{ type: 'string' }, { type: 'null' }] },
    createdBy: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
    finishedAt: { anyOf: [{ type: 'string', format: 'date-time' }, { type: 'null' }] },
    agents: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['agentId', 'wave'], properties: { agentId: { type: 'string' }, wave: { type: 'integer' } } } },
  },
} as const;

export const rolloutListSchema = { type: 'object', additionalProperties: false, required: ['items'], properties: { items: { type: 'array', items: rolloutViewSchema } } } as const;

export type CreatePolicyBody = FromSchema<typeof createPolicyBodySchema>;
export type PolicyView = FromSchema<typeof policyViewSchema>;
export type PublishBody = FromSchema<typeof publishBodySchema>;
export type RevisionSummary = FromSchema<typeof revisionSummarySchema>;
export type RevisionView = FromSchema<typeof revisionViewSchema>;
export type ValidateResponse = FromSchema<typeof validateResponseSchema>;
export type DiffResponse = FromSchema<typeof diffResponseSchema>;
export type StartRolloutBody = FromSchema<typeof startRolloutBodySchema>;
export type RolloutView = FromSchema<typeof rolloutViewSchema>;
