/**
 * Refresh tokens: opaque, 32 random bytes, stored only as sha256. One family per login; every refresh
 * exchanges the presented token for a new one in the same family (rotation). A token is good once:
 *
 *   issued ──refresh──> used (a new token issued) ──presented again──> REUSE: the family is revoked
 *
 * Reuse means the token was copied (a stolen cookie, a leaked log): whoever holds the newest token of the
 * family loses it too, and must log in again. Logout, a password reset and disabling the user revoke families.
 *
 * Browser families also hold a CSRF token (hash only): a refresh or logout sent with the cookie must carry it
 * in `x-csrf-token`. It is rotated with the refresh token and handed back in the body, which another origin
 * cannot read.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { ForbiddenError, UnauthorizedError } from '@sluice/shared/errors';
import { withTransaction } from '../db/transaction.ts';
import { SYSTEM_ACTOR, recordAudit } from './audit.ts';

export type SessionClient = 'browser' | 'token';

export interface IssuedRefresh {
  refreshToken: string;
  familyId: string;
  expiresAt: string;
  /** Browser families only. */
  csrfToken?: string;
}

export interface RefreshOptions {
  /** How long an unused refresh token stays good (sliding: each refresh starts a new one). */
  ttlMs: number;
  /** Longest a family lives, however often it is refreshed: then the user logs in again. */
  familyTtlMs: number;
  now?: () => number;
}

/** How the caller presented the token: in the body (bearer clients) or in the cookie (needs the CSRF token). */
export interface Presented {
  token: string;
  viaCookie: boolean;
  csrfToken?: string | undefined;
  requestId?: string | undefined;
}

interface TokenRow {
  token_hash: string;
  family_id: string;
  expires_at: Date;
  used_at: Date | null;
  username: string;
  client: SessionClient;
  csrf_hash: string | null;
  family_expires_at: Date;
  revoked_at: Date | null;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const secret = (prefix: string): string => `${prefix}${randomBytes(32).toString('base64url')}`;

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

export class RefreshTokens {
  readonly #pool: pg.Pool;
  readonly #options: RefreshOptions;
  readonly #now: () => number;

  constructor(pool: pg.Pool, options: RefreshOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** A new family (a login), in the caller's transaction. */
  async startFamily(client: pg.ClientBase, username: string, kind: SessionClient): Promise<IssuedRefresh> {
    const refreshToken = secret('slr_');
    // Derived from the first token: unique without a second random id.
    const familyId = sha256(`family:${refreshToken}`).slice(0, 32);
    const csrfToken = kind === 'browser' ? secret('') : undefined;
    const now = this.#now();
    await client.query('INSERT INTO refresh_families (id, username, client, csrf_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
      familyId,
      username,
      kind,
      csrfToken === undefined ? null : sha256(csrfToken),
      new Date(now),
      new Date(now + this.#options.familyTtlMs),
    ]);
    const expiresAt = await this.#insertToken(client, familyId, refreshToken, now + this.#options.familyTtlMs);
    return { refreshToken, familyId, expiresAt, ...(csrfToken === undefined ? {} : { csrfToken }) };
  }

  /**
   * Exchanges a token for the next one of its family; `activeRole` re-reads the user (disabled -> refused).
   * A reused token revokes its family, audited, and is refused.
   */
  async rotate(presented: Presented, activeRole: (client: pg.ClientBase, username: string) => Promise<string | undefined>): Promise<{ username: string; issued: IssuedRefresh }> {
    const outcome = await withTransaction(this.#pool, async (client) => {
      const row = await this.#find(client, presented);
      if (row.revoked_at !== null) throw UnauthorizedError('refresh token revoked: log in again');
      if (row.used_at !== null) {
        await this.#revoke(client, row.family_id, 'reuse');
        await recordAudit(client, {
          actor: SYSTEM_ACTOR,
          action: 'auth.refresh-reuse',
          target: { kind: 'user', id: row.username },
          after: { family: row.family_id, revoked: true },
          requestId: presented.requestId,
        });
        return { reused: true as const };
      }
      const now = this.#now();
      if (row.expires_at.getTime() <= now || row.family_expires_at.getTime() <= now) throw UnauthorizedError('refresh token expired: log in again');
      if ((await activeRole(client, row.username)) === undefined) throw UnauthorizedError('this user is disabled');
      await client.query('UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1', [row.token_hash, new Date(now)]);
      const refreshToken = secret('slr_');
      const expiresAt = await this.#insertToken(client, row.family_id, refreshToken, row.family_expires_at.getTime());
      let csrfToken: string | undefined;
      if (row.client === 'browser') {
        csrfToken = secret('');
        await client.query('UPDATE refresh_families SET csrf_hash = $2 WHERE id = $1', [row.family_id, sha256(csrfToken)]);
      }
      return { reused: false as const, username: row.username, issued: { refreshToken, familyId: row.family_id, expiresAt, ...(csrfToken === undefined ? {} : { csrfToken }) } };
    });
    // Refused after the commit: the revocation and its audit row must stay even though the caller gets 401.
    if (outcome.reused) throw UnauthorizedError('refresh token reused: every session of this login is revoked; log in again');
    return outcome;
  }

  /** Logout: revokes the presented token's family; answers the username (for the audit row). */
  async revokeFamily(client: pg.ClientBase, presented: Presented): Promise<{ username: string; familyId: string }> {
    const row = await this.#find(client, presented);
    await this.#revoke(client, row.family_id, 'logout');
    return { username: row.username, familyId: row.family_id };
  }

  /**
   * Forgets families that expired over a day ago, with their tokens: past its expiry a family's used tokens
   * detect nothing anymore (an expired token is refused anyway). Run at each login, which is rare.
   */
  async prune(client: pg.ClientBase): Promise<void> {
    const before = new Date(this.#now() - 86_400_000);
    await client.query('DELETE FROM refresh_tokens WHERE family_id IN (SELECT id FROM refresh_families WHERE expires_at < $1)', [before]);
    await client.query('DELETE FROM refresh_families WHERE expires_at < $1', [before]);
  }

  /** Every open family of `username` (password reset, user disabled). */
  async revokeUser(client: pg.ClientBase, username: string, reason: string): Promise<number> {
    const result = await client.query('UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 WHERE username = $1 AND revoked_at IS NULL', [username, new Date(this.#now()), reason]);
    return result.rowCount ?? 0;
  }

  async #find(client: pg.ClientBase, presented: Presented): Promise<TokenRow> {
    const found = await client.query<TokenRow>(
      `SELECT t.token_hash, t.family_id, t.expires_at, t.used_at, f.username, f.client, f.csrf_hash, f.expires_at AS family_expires_at, f.revoked_at
       FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = $1 FOR UPDATE OF t, f`,
      [sha256(presented.token)],
    );
    const row = found.rows[0];
    if (!row) throw UnauthorizedError('unknown refresh token: log in again');
    if (presented.viaCookie) {
      // Checked before anything else happens: a cross-site request must not even burn the token.
      if (row.csrf_hash === null) throw ForbiddenError('this refresh token is not a browser session; send it in the body');
      if (presented.csrfToken === undefined || !sameHash(sha256(presented.csrfToken), row.csrf_hash)) throw ForbiddenError('missing or wrong x-csrf-token header');
    }
    return row;
  }

  async #insertToken(client: pg.ClientBase, familyId: string, token: string, familyExpiresMs: number): Promise<string> {
    const now = this.#now();
    const expires = new Date(Math.min(now + this.#options.ttlMs, familyExpiresMs));
    await client.query('INSERT INTO refresh_tokens (token_hash, family_id, issued_at, expires_at) VALUES ($1, $2, $3, $4)', [sha256(token), familyId, new Date(now), expires]);
    return expires.toISOString();
  }

  async #revoke(client: pg.ClientBase, familyId: string, reason: string): Promise<void> {
    await client.query('UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL', [familyId, new Date(this.#now()), reason]);
  }
}
