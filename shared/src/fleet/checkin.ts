import type { FromSchema } from 'json-schema-to-ts';

/**
 * The agent ⇄ control-plane wire contract: enrollment (`POST /api/v1/enroll`), check-in
 * (`POST /api/v1/agent/checkin`) and the agent's own config (`GET /api/v1/agent/config`).
 * The agent is the only side that opens connections (NAT friendly); its identity comes only from its
 * credential, so no body here names an agent.
 */

/** Longest long-poll a check-in may ask for; the server may cap it lower (SLUICE_CHECKIN_MAX_WAIT_SECONDS). */
export const CHECKIN_MAX_WAIT_SECONDS = 30;
export const CHECKIN_MAX_BODY_BYTES = 1024 * 1024;
export const CHECKIN_MAX_SOURCES = 1000;
export const CHECKIN_MAX_LEDGER_ROWS = 5000;

/** Prefix of an agent credential (`sla_…`) and of an enrollment token (`sle_…`). */
export const AGENT_CREDENTIAL_PREFIX = 'sla_';
export const ENROLLMENT_TOKEN_PREFIX = 'sle_';

/** Header carrying the agent's session, `<counter>.<nonce>`; see docs/fleet.md "Identity and clone safety". */
export const INSTANCE_HEADER = 'x-sluice-instance';
export const INSTANCE_NONCE_PATTERN = '^[A-Za-z0-9_-]{16,128}$';
const INSTANCE_HEADER_RE = /^([1-9][0-9]{0,15})\.([A-Za-z0-9_-]{16,128})$/;

export interface AgentInstance {
  counter: number;
  nonce: string;
}

export function formatInstanceHeader(instance: AgentInstance): string {
  return `${String(instance.counter)}.${instance.nonce}`;
}

/** The session an `x-sluice-instance` value names, or undefined when it is missing or malformed. */
export function parseInstanceHeader(value: string | undefined): AgentInstance | undefined {
  const match = value === undefined ? null : INSTANCE_HEADER_RE.exec(value);
  if (match?.[1] === undefined || match[2] === undefined) return undefined;
  const counter = Number(match[1]);
  return Number.isSafeInteger(counter) ? { counter, nonce: match[2] } : undefined;
}

/** Same shape as the agent config's `agentId`: record ids embed it. */
export const AGENT_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$';

const dateTime = { type: 'string', format: 'date-time' } as const;
const configHash = { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'sha256 hex of the canonical JSON of the defaulted pipeline' } as const;
const nullableHash = { type: ['string', 'null'], pattern: '^[0-9a-f]{64}$' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const shortText = { type: 'string', minLength: 1, maxLength: 200 } as const;

export const APPLY_STATES = ['applying', 'applied', 'failed', 'rolled-back'] as const;
export type ApplyState = (typeof APPLY_STATES)[number];
export const BREAKER_STATES = ['closed', 'open', 'half-open'] as const;

const instanceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['counter', 'nonce'],
  properties: {
    counter: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    nonce: { type: 'string', pattern: INSTANCE_NONCE_PATTERN, description: 'random, made afresh by every agent process' },
  },
} as const;

export const enrollRequestSchema = {
  $id: 'https://sluice.dev/schemas/fleet/enroll-request.json',
  type: 'object',
  additionalProperties: false,
  required: ['token', 'hostname', 'version', 'instance'],
  properties: {
    token: { type: 'string', minLength: 1, maxLength: 256, description: 'an enrollment token (`sle_…`)' },
    name: { type: 'string', minLength: 1, maxLength: 93, description: 'the agent id starts with it (sanitized); default the hostname' },
    hostname: { type: 'string', minLength: 1, maxLength: 253 },
    version: { type: 'string', minLength: 1, maxLength: 64 },
    instance: instanceSchema,
  },
} as const;

export const enrollResponseSchema = {
  $id: 'https://sluice.dev/schemas/fleet/enroll-response.json',
  type: 'object',
  additionalProperties: false,
  required: ['agentId', 'credential'],
  properties: {
    agentId: { type: 'string', pattern: AGENT_ID_PATTERN },
    credential: { type: 'string', description: 'the agent credential (`sla_…`); shown once, the control plane keeps only its hash' },
  },
} as const;

const revisionRef = {
  type: 'object',
  additionalProperties: false,
  required: ['policy', 'number'],
  properties: { policy: shortText, number: { type: 'integer', minimum: 1 } },
} as const;

const healthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['at', 'startedAt', 'sources', 'outbox', 'breakers', 'datasets'],
  properties: {
    at: dateTime,
    startedAt: { ...dateTime, description: 'when this agent process started; the dataset counters count from it' },
    sources: {
      type: 'array',
      maxItems: CHECKIN_MAX_SOURCES,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'type', 'dataset', 'state'],
        properties: {
          id: shortText,
          type: { type: 'string', minLength: 1, maxLength: 64 },
          dataset: shortText,
          state: { type: 'string', minLength: 1, maxLength: 64 },
          position: { type: 'string', maxLength: 1024 },
          lastError: {
            type: 'object',
            additionalProperties: false,
            required: ['at', 'message'],
            properties: { at: dateTime, message: { type: 'string', maxLength: 2048 } },
          },
          lastCommitAt: { ...dateTime, description: 'when the source last committed records in this run of the agent' },
          idle: {
            type: 'boolean',
            description: 'running, nothing committed for a while and nothing of its dataset left in the outbox: analytics panes may close up to `at`',
          },
        },
      },
    },
    outbox: {
      type: 'object',
      additionalProperties: false,
      required: ['rows', 'bytes', 'oldestAgeMs'],
      properties: { rows: count, bytes: count, oldestAgeMs: { type: ['integer', 'null'], minimum: 0 } },
    },
    breakers: {
      type: 'array',
      maxItems: CHECKIN_MAX_SOURCES * 4,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['source', 'endpoint', 'state'],
        properties: { source: shortText, endpoint: { type: 'string', maxLength: 1024 }, state: { enum: BREAKER_STATES } },
      },
    },
    datasets: {
      type: 'array',
      maxItems: CHECKIN_MAX_SOURCES,
      description: 'cumulative since startedAt',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['dataset', 'read', 'committed', 'shipped'],
        properties: { dataset: shortText, read: count, committed: count, shipped: count },
      },
    },
  },
} as const;

export const checkinRequestSchema = {
  $id: 'https://sluice.dev/schemas/fleet/checkin-request.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'config', 'apply', 'health', 'ledger', 'allowedRoots'],
  properties: {
    version: { type: 'string', minLength: 1, maxLength: 64, description: "the agent's package version" },
    waitSeconds: {
      type: 'integer',
      minimum: 0,
      maximum: CHECKIN_MAX_WAIT_SECONDS,
      description: 'long-poll: hold the answer until the desired config changes or this passes',
    },
    config: {
      type: 'object',
      additionalProperties: false,
      required: ['hash', 'revision'],
      description: 'what the agent runs now',
      properties: { hash: nullableHash, revision: { anyOf: [revisionRef, { type: 'null' }] } },
    },
    apply: {
      type: 'object',
      additionalProperties: false,
      required: ['state', 'hash', 'at'],
      description: 'the last apply; `rolled-back` names the failed hash and why',
      properties: {
        state: { enum: APPLY_STATES },
        hash: nullableHash,
        reason: { type: 'string', maxLength: 4096 },
        at: dateTime,
      },
    },
    health: healthSchema,
    ledger: {
      type: 'array',
      maxItems: CHECKIN_MAX_LEDGER_ROWS,
      description: 'records shipped per dataset and minute of ingestTime, cumulative per minute; rows changed since the last acknowledged check-in',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['dataset', 'minute', 'shipped'],
        properties: {
          dataset: shortText,
          minute: {
            type: 'string',
            format: 'date-time',
            pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:00(\\.0{1,9})?(Z|[+-]\\d{2}:\\d{2})$',
            description: 'a whole minute',
          },
          shipped: count,
        },
      },
    },
    ledgerThrough: {
      type: 'integer',
      minimum: 0,
      description:
        "the agent's change number the ledger rows go up to; with it, the answer does not wait for the rows to be written and `ledgerAckedThrough` says which are (without it, the answer waits)",
    },
    allowedRoots: {
      type: 'array',
      maxItems: 256,
      items: { type: 'string', minLength: 1, maxLength: 4096 },
      description: "the agent's local allowedRoots, resolved; publish-time checks use them",
    },
  },
} as const;

export const desiredSchema = {
  description: 'the revision this agent should run, or null when no policy selects it',
  anyOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['revision', 'hash'],
      properties: {
        revision: {
          type: 'object',
          additionalProperties: false,
          required: ['policy', 'number', 'id'],
          properties: { policy: { type: 'string' }, number: { type: 'integer' }, id: { type: 'integer' } },
        },
        hash: configHash,
      },
    },
    { type: 'null' },
  ],
} as const;

/**
 * The pipeline as sent: `{ sources }`, defaulted. Sources are left open here; the agent validates the whole
 * pipeline with `validatePipeline` (shared/src/agent-config/validate.ts) before it applies anything.
 */
export const pipelineWireSchema = {
  type: 'object',
  required: ['sources'],
  properties: { sources: { type: 'array', items: { type: 'object', additionalProperties: true } } },
  additionalProperties: true,
} as const;

export const checkinResponseSchema = {
  $id: 'https://sluice.dev/schemas/fleet/checkin-response.json',
  type: 'object',
  additionalProperties: false,
  required: ['agentId', 'desired', 'nextCheckinSeconds'],
  properties: {
    agentId: { type: 'string' },
    desired: desiredSchema,
    config: { ...pipelineWireSchema, description: 'present only when desired.hash differs from the hash the agent sent' },
    nextCheckinSeconds: { type: 'integer', minimum: 0, description: 'when to check in again if nothing changes' },
    ledgerAckedThrough: {
      type: 'integer',
      minimum: 0,
      description: "present when the request had `ledgerThrough`: the agent's ledger rows up to this change number are durably written; rows after it must be sent again",
    },
  },
} as const;

export const agentConfigResponseSchema = {
  $id: 'https://sluice.dev/schemas/fleet/agent-config-response.json',
  type: 'object',
  additionalProperties: false,
  required: ['desired', 'config'],
  properties: { desired: desiredSchema, config: { anyOf: [pipelineWireSchema, { type: 'null' }] } },
} as const;

export type EnrollRequest = FromSchema<typeof enrollRequestSchema>;
export type EnrollResponse = FromSchema<typeof enrollResponseSchema>;
export type CheckinRequest = FromSchema<typeof checkinRequestSchema>;
export type CheckinHealth = CheckinRequest['health'];
export type CheckinLedgerRow = CheckinRequest['ledger'][number];
export type CheckinResponse = FromSchema<typeof checkinResponseSchema>;
export type DesiredRevision = FromSchema<typeof desiredSchema>;
export type AgentConfigResponse = FromSchema<typeof agentConfigResponseSchema>;
/** The pipeline as carried on the wire; validatePipeline turns it into a typed PipelineConfig. */
export type PipelineWire = FromSchema<typeof pipelineWireSchema>;
