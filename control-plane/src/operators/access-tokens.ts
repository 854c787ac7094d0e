/**
 * Short-lived access tokens: JWTs signed EdDSA (Ed25519) with a `kid` naming the signing key, so keys rotate
 * without a flag day (signing-keys.ts). The token carries the username and role; a role change or a disabled
 * user takes effect at the next refresh, at most one token lifetime later, because verifying a token reads
 * nothing from PostgreSQL but the (cached) public keys.
 */
import { SignJWT, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { UnauthorizedError } from '@sluice/shared/errors';
import { isRole, type Role } from '../auth/api-keys.ts';
import type { Principal } from '../auth/principal.ts';
import type { AccessTokenVerifier } from '../http/auth.ts';
import type { SigningKeys } from './signing-keys.ts';

export const TOKEN_ISSUER = 'sluice-control-plane';
export const TOKEN_AUDIENCE = 'sluice-api';

export type UserPrincipal = Extract<Principal, { kind: 'user' }>;

export class AccessTokens implements AccessTokenVerifier {
  readonly #keys: SigningKeys;
  readonly #ttlSeconds: number;
  readonly #now: () => number;

  constructor(keys: SigningKeys, options: { ttlSeconds: number; now?: () => number }) {
    this.#keys = keys;
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
  }

  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  async issue(user: { username: string; role: Role }): Promise<{ accessToken: string; expiresAt: string }> {
    const { kid, privateKey } = await this.#keys.current();
    const issuedAt = Math.floor(this.#now() / 1000);
    const expires = issuedAt + this.#ttlSeconds;
    const accessToken = await new SignJWT({ role: user.role })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setSubject(user.username)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt(issuedAt)
      .setExpirationTime(expires)
      .sign(privateKey);
    return { accessToken, expiresAt: new Date(expires * 1000).toISOString() };
  }

  async verify(token: string): Promise<UserPrincipal> {
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw UnauthorizedError('malformed access token');
    }
    if (kid === undefined) throw UnauthorizedError('access token names no signing key (kid)');
    const key = await this.#keys.publicKey(kid);
    if (!key) throw UnauthorizedError('access token signed by an unknown or expired key');
    try {
      const { payload } = await jwtVerify(token, key, {
        algorithms: ['EdDSA'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        currentDate: new Date(this.#now()),
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      const role: unknown = payload['role'];
      if (typeof payload.sub !== 'string' || !isRole(role)) throw UnauthorizedError('access token without a user and role');
      return { kind: 'user', id: payload.sub, name: payload.sub, role };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw UnauthorizedError('access token expired: refresh it at POST /api/v1/auth/refresh');
      if (error instanceof joseErrors.JOSEError) throw UnauthorizedError('invalid access token');
      throw error;
    }
  }
}
