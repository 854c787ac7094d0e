/**
 * Per-username lockout, in PostgreSQL so it holds across every control-plane process behind one address:
 * `maxFailures` wrong passwords within `windowMs` lock the username for `lockoutMs`. While locked, login
 * answers 429 whether the password is right or not, so a locked account cannot be used as an oracle.
 */
import type pg from 'pg';
import { TooManyRequestsError } from '@sluice/shared/errors';
import { withTransaction } from '../db/transaction.ts';

export interface LockoutOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  now?: () => number;
}

interface FailureRow {
  failures: number;
  window_started_at: Date;
  locked_until: Date | null;
}

export class LoginLockout {
  readonly #pool: pg.Pool;
  readonly #options: LockoutOptions;
  readonly #now: () => number;

  constructor(pool: pg.Pool, options: LockoutOptions) {
    this.#pool = pool;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Throws TooManyRequestsError (429, Retry-After) while `username` is locked out. */
  async check(username: string): Promise<void> {
    const row = (await this.#pool.query<FailureRow>('SELECT failures, window_started_at, locked_until FROM login_failures WHERE username = $1', [username])).rows[0];
    const waitMs = (row?.locked_until?.getTime() ?? 0) - this.#now();
    if (waitMs > 0) throw lockedError(waitMs);
  }

  /** Counts a wrong password; returns true when this failure locked the username. */
  async failed(username: string): Promise<boolean> {
    const now = this.#now();
    return withTransaction(this.#pool, async (client) => {
      await client.query('INSERT INTO login_failures (username, failures, window_started_at) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING', [username, new Date(now)]);
      const row = (await client.query<FailureRow>('SELECT failures, window_started_at, locked_until FROM login_failures WHERE username = $1 FOR UPDATE', [username])).rows[0]!;
      const expired = now - row.window_started_at.getTime() >= this.#options.windowMs || (row.locked_until !== null && row.locked_until.getTime() <= now);
      const failures = expired ? 1 : row.failures + 1;
      const locks = failures >= this.#options.maxFailures;
      await client.query('UPDATE login_failures SET failures = $2, window_started_at = $3, locked_until = $4 WHERE username = $1', [
        username,
        locks ? 0 : failures,
        expired ? new Date(now) : row.window_started_at,
        locks ? new Date(now + this.#options.lockoutMs) : expired ? null : row.locked_until,
      ]);
      return locks;
    });
  }

  /** A successful login forgets the username's failures, and the rows of every username whose window ended. */
  async succeeded(username: string): Promise<void> {
    const now = this.#now();
    // Without the sweep, guesses at made-up usernames would leave a row each (bounded by the per-address rate).
    await this.#pool.query('DELETE FROM login_failures WHERE username = $1 OR (window_started_at < $2 AND (locked_until IS NULL OR locked_until < $3))', [
      username,
      new Date(now - this.#options.windowMs),
      new Date(now),
    ]);
  }
}

export function lockedError(waitMs: number): Error {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return TooManyRequestsError(`this account is locked after too many failed logins; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
}
