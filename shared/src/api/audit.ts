import type { FromSchema } from 'json-schema-to-ts';

/** GET /api/v1/audit (admin): newest first, filtered, paged by an opaque cursor. */

const dateTime = { type: 'string', format: 'date-time' } as const;

export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    actor: { type: 'string', maxLength: 200, description: 'actor id: a username, API key id, agent id or system name' },
    action: { type: 'string', maxLength: 100, description: 'exact (user.create) or a prefix ending in .* (user.*)' },
    targetKind: { type: 'string', maxLength: 100 },
    targetId: { type: 'string', maxLength: 200 },
    from: { ...dateTime, description: 'inclusive' },
    to: { ...dateTime, description: 'exclusive' },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    cursor: { type: 'string', maxLength: 40, description: 'nextCursor of the previous page' },
  },
} as const;
export type AuditQuery = FromSchema<typeof auditQuerySchema>;

export const auditEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'at', 'actor', 'action', 'target', 'before', 'after', 'requestId'],
  properties: {
    id: { type: 'string', pattern: '^[0-9]{1,19}$' },
    at: dateTime,
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['kind', 'id', 'name'],
      properties: { kind: { enum: ['user', 'apiKey', 'agent', 'system'] }, id: { type: 'string' }, name: { type: ['string', 'null'] } },
    },
    action: { type: 'string' },
    target: { type: 'object', additionalProperties: false, required: ['kind', 'id'], properties: { kind: { type: 'string' }, id: { type: 'string' } } },
    before: { description: 'state before the change (never secrets), or null' },
    after: { description: 'state after the change (never secrets), or null' },
    requestId: { type: ['string', 'null'] },
  },
} as const;
export type AuditEntryResponse = FromSchema<typeof auditEntrySchema>;

export const auditPageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['entries', 'nextCursor'],
  properties: { entries: { type: 'array', items: auditEntrySchema }, nextCursor: { type: ['string', 'null'] } },
} as const;
