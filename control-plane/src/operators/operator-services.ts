/**
 * The operator side of the control plane, built once per process from its settings: users, sessions,
 * signing keys and the login limiter. Everything durable is in PostgreSQL, so any number of processes
 * built this way serve the same operators.
 */
import type pg from 'pg';
import { AccessTokens } from './access-tokens.ts';
import { LoginLockout } from './login-lockout.ts';
import { RateLimiter } from './rate-limit.ts';
import { RefreshTokens } from './refresh-tokens.ts';
import { Sessions } from './sessions.ts';
import { SigningKeys } from './signing-keys.ts';
import { UserStore } from './user-store.ts';

export interface OperatorSettings {
  /** Access-token lifetime (SLUICE_JWT_TTL_SECONDS, default 600). */
  jwtTtlSeconds: number;
  /** Encrypts JWT private keys at rest (SLUICE_JWT_SECRET); unset stores them as PEM. */
  jwtSecret: string | undefined;
  /** A signing key is replaced after this many days (SLUICE_JWT_ROTATE_DAYS, default 30). */
  jwtRotateDays: number;
  /** An unused refresh token expires after this (SLUICE_REFRESH_TTL_SECONDS, default 7 days). */
  refreshTtlSeconds: number;
  /** A login lasts at most this long however often it is refreshed (SLUICE_SESSION_MAX_SECONDS, default 30 days). */
  sessionMaxSeconds: number;
  /** Wrong passwords within lockoutWindowSeconds that lock a username (SLUICE_LOGIN_MAX_FAILURES, default 5). */
  loginMaxFailures: number;
  /** How long a username stays locked (SLUICE_LOGIN_LOCKOUT_SECONDS, default 900). */
  loginLockoutSeconds: number;
  /** Login attempts one client address may make per minute (SLUICE_LOGIN_RATE_PER_MINUTE, default 20). */
  loginRatePerMinute: number;
}

export const DEFAULT_OPERATOR_SETTINGS: OperatorSettings = {
  jwtTtlSeconds: 600,
  jwtSecret: undefined,
  jwtRotateDays: 30,
  refreshTtlSeconds: 7 * 24 * 3600,
  sessionMaxSeconds: 30 * 24 * 3600,
  loginMaxFailures: 5,
  loginLockoutSeconds: 900,
  loginRatePerMinute: 20,
};

export interface OperatorServices {
  users: UserStore;
  signingKeys: SigningKeys;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
  sessions: Sessions;
  /** Refresh cookies get `Secure` when the API is served over https. */
  secureCookies: boolean;
}

export function createOperatorServices(
  pool: pg.Pool,
  settings: Partial<OperatorSettings> = {},
  options: { now?: () => number; secureCookies?: boolean } = {},
): OperatorServices {
  const s = { ...DEFAULT_OPERATOR_SETTINGS, ...settings };
  const now = options.now ?? Date.now;
  const users = new UserStore(pool);
  const signingKeys = new SigningKeys(pool, { secret: s.jwtSecret, rotateAfterMs: s.jwtRotateDays * 86_400_000, tokenTtlMs: s.jwtTtlSeconds * 1000, now });
  const accessTokens = new AccessTokens(signingKeys, { ttlSeconds: s.jwtTtlSeconds, now });
  const refreshTokens = new RefreshTokens(pool, { ttlMs: s.refreshTtlSeconds * 1000, familyTtlMs: s.sessionMaxSeconds * 1000, now });
  const lockout = new LoginLockout(pool, { maxFailures: s.loginMaxFailures, windowMs: s.loginLockoutSeconds * 1000, lockoutMs: s.loginLockoutSeconds * 1000, now });
  // Per address, the limiter locks out after more failures than one username allows: a few people behind
  // one NAT mistyping must not lock each other out.
  const ipLimiter = new RateLimiter({ attempts: s.loginRatePerMinute, windowMs: 60_000, failures: s.loginMaxFailures * 4, lockoutMs: s.loginLockoutSeconds * 1000, now });
  const sessions = new Sessions({ pool, users, lockout, ipLimiter, accessTokens, refreshTokens });
  return { users, signingKeys, accessTokens, refreshTokens, sessions, secureCookies: options.secureCookies ?? false };
}
