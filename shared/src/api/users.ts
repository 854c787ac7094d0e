import type { FromSchema } from 'json-schema-to-ts';

/** /api/v1/users and /api/v1/api-keys (admin). Neither passwords nor keys are ever answered, except a new key once. */

const ROLE = { enum: ['viewer', 'operator', 'admin'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const usernameParams = {
  type: 'object',
  required: ['username'],
  properties: { username: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const createUserBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password', 'role'],
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024, description: 'at least 12 characters' },
    role: ROLE,
  },
} as const;
export type CreateUserBody = FromSchema<typeof createUserBodySchema>;

export const updateUserBodySchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { role: ROLE, password: { type: 'string', minLength: 1, maxLength: 1024, description: 'a reset: revokes every session of the user' } },
} as const;
export type UpdateUserBody = FromSchema<typeof updateUserBodySchema>;

export const userSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'role', 'createdAt', 'updatedAt', 'disabledAt'],
  properties: { username: { type: 'string' }, role: ROLE, createdAt: dateTime, updatedAt: dateTime, disabledAt: nullableDateTime },
} as const;
export type UserResponse = FromSchema<typeof userSchema>;

export const userListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['users'],
  properties: { users: { type: 'array', items: userSchema } },
} as const;

export const apiKeyIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const createApiKeyBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['role', 'name'],
  properties: { role: ROLE, name: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;
export type CreateApiKeyBody = FromSchema<typeof createApiKeyBodySchema>;

export const apiKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'role', 'createdAt', 'revokedAt'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, role: ROLE, createdAt: dateTime, revokedAt: nullableDateTime },
} as const;
export type ApiKeyResponse = FromSchema<typeof apiKeySchema>;

export const createdApiKeySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'role', 'key'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, role: ROLE, key: { type: 'string', description: 'shown this once; only its sha256 is stored' } },
} as const;

export const apiKeyListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['apiKeys'],
  properties: { apiKeys: { type: 'array', items: apiKeySchema } },
} as const;
