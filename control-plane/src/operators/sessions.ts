/**
 * Login, refresh and logout: what the /api/v1/auth routes do, without HTTP. Login order matters:
 *
 *   per-IP rate limit ─> per-username lockout ─> password (argon2id, a decoy hash for unknown users)
 *
 * so a locked account is refused before its password is looked at (right or wrong, the same 429), and an
 * address guessing across many usernames is stopped by the IP rule.
 */
import type pg from 'pg';
import { UnauthorizedError } from '@sluice/shared/errors';
import type { Role } from '../auth/api-keys.ts';
import { withTransaction } from '../db/transaction.ts';
import type { AccessTokens } from './access-tokens.ts';
import { recordAudit } from './audit.ts';
import type { LoginLockout } from './login-lockout.ts';
import { decoyHash, verifyPassword } from './passwords.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { IssuedRefresh, Presented, RefreshTokens, SessionClient } from './refresh-tokens.ts';
import { normalizeUsername, type UserStore } from './user-store.ts';

export interface Session {
  user: { username: string; role: Role };
  accessToken: string;
  accessTokenExpiresAt: string;
  refresh: IssuedRefresh;
}

export interface SessionsDeps {
  pool: pg.Pool;
  users: UserStore;
  lockout: LoginLockout;
  ipLimiter: RateLimiter;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
}

export class Sessions {
  readonly #deps: SessionsDeps;

  constructor(deps: SessionsDeps) {
    this.#deps = deps;
  }

  async login(input: { username: string; password: string; client: SessionClient; ip: string; requestId?: string }): Promise<Session> {
    const { users, lockout, ipLimiter, accessTokens, refreshTokens, pool } = this.#deps;
    ipLimiter.attempt(input.ip, 'login attempts');
    const username = normalizeUsername(input.username);
    await lockout.check(username);
    const user = await users.credentials(username);
    // An unknown user costs a hash too, so timing does not tell which usernames exist.
    const matches = await verifyPassword(input.password, user?.passwordHash ?? (await decoyHash()));
    if (!user || !matches || user.disabled) {
      ipLimiter.failed(input.ip);
      const locked = await lockout.failed(username);
      if (locked) {
        await withTransaction(pool, (client) =>
          recordAudit(client, { actor: { kind: 'system', id: 'login-lockout' }, action: 'auth.lockout', target: { kind: 'user', id: username }, requestId: input.requestId }),
        );
      }
      throw UnauthorizedError('wrong username or password');
    }
    ipLimiter.succeeded(input.ip);
    await lockout.succeeded(username);
    const refresh = await withTransaction(pool, async (client) => {
      await refreshTokens.prune(client);
      const issued = await refreshTokens.startFamily(client, user.username, input.client);
      await recordAudit(client, {
        actor: { kind: 'user', id: user.username, name: user.username },
        action: 'auth.login',
        target: { kind: 'user', id: user.username },
        after: { client: input.client, family: issued.familyId },
        requestId: input.requestId,
      });
      return issued;
    });
    const access = await accessTokens.issue({ username: user.username, role: user.role });
    return { user: { username: user.username, role: user.role }, accessToken: access.accessToken, accessTokenExpiresAt: access.expiresAt, refresh };
  }

  async refresh(presented: Presented): Promise<Session> {
    const { users, accessTokens, refreshTokens } = this.#deps;
    let role: Role | undefined;
    const rotated = await refreshTokens.rotate(presented, async (client, username) => (role = await users.activeRole(client, username)));
    if (role === undefined) throw UnauthorizedError('this user is disabled');
    const access = await accessTokens.issue({ username: rotated.username, role });
    return { user: { username: rotated.username, role }, accessToken: access.accessToken, accessTokenExpiresAt: access.expiresAt, refresh: rotated.issued };
  }

  async logout(presented: Presented): Promise<void> {
    await withTransaction(this.#deps.pool, async (client) => {
      const { username, familyId } = await this.#deps.refreshTokens.revokeFamily(client, presented);
      await recordAudit(client, {
        actor: { kind: 'user', id: username, name: username },
        action: 'auth.logout',
        target: { kind: 'user', id: username },
        after: { family: familyId, revoked: true },
        requestId: presented.requestId,
      });
    });
  }
}
