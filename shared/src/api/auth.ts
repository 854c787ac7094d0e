import type { FromSchema } from 'json-schema-to-ts';

/**
 * /api/v1/auth: login, refresh, logout, and who the caller is. Browsers (`client: 'browser'`, the default)
 * get the refresh token as an HttpOnly cookie scoped to /api/v1/auth and a CSRF token in the body, which must
 * come back as `x-csrf-token` on refresh and logout; other clients (`client: 'token'`) get the refresh token
 * in the body and send it back there.
 */

const ROLE = { enum: ['viewer', 'operator', 'admin'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;

export const REFRESH_COOKIE = 'sluice_refresh';
export const CSRF_HEADER = 'x-csrf-token';

export const loginBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    client: { enum: ['browser', 'token'], default: 'browser', description: 'browser: refresh token in an HttpOnly cookie; token: in the body' },
  },
} as const;
export type LoginBody = FromSchema<typeof loginBodySchema>;

/** Refresh and logout: the token in the body (token clients), or nothing (the cookie and x-csrf-token). */
export const refreshBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: { refreshToken: { type: 'string', minLength: 1, maxLength: 200 } },
} as const;
export type RefreshBody = FromSchema<typeof refreshBodySchema>;

export const sessionResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['user', 'accessToken', 'tokenType', 'expiresAt', 'refreshExpiresAt'],
  properties: {
    user: { type: 'object', additionalProperties: false, required: ['username', 'role'], properties: { username: { type: 'string' }, role: ROLE } },
    accessToken: { type: 'string', description: 'a JWT (EdDSA); send as Authorization: Bearer' },
    tokenType: { const: 'Bearer' },
    expiresAt: { ...dateTime, description: 'when the access token expires' },
    refreshExpiresAt: { ...dateTime, description: 'when the refresh token expires unless used' },
    refreshToken: { type: 'string', description: 'token clients only; shown once, rotated on every refresh' },
    csrfToken: { type: 'string', description: 'browser clients only; send as x-csrf-token on refresh and logout' },
  },
} as const;
export type SessionResponse = FromSchema<typeof sessionResponseSchema>;

export const logoutResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['loggedOut'],
  properties: { loggedOut: { const: true, description: "every refresh token of this login is revoked" } },
} as const;

export const whoAmISchema = {
  type: 'object',
  additionalProperties: false,
  required: ['kind', 'id', 'name', 'role'],
  properties: { kind: { enum: ['user', 'apiKey'] }, id: { type: 'string' }, name: { type: 'string' }, role: ROLE },
} as const;
export type WhoAmI = FromSchema<typeof whoAmISchema>;

export const jwksSchema = {
  type: 'object',
  required: ['keys'],
  properties: { keys: { type: 'array', items: { type: 'object', additionalProperties: true, required: ['kty', 'kid'], properties: { kty: { type: 'string' }, kid: { type: 'string' } } } } },
} as const;
