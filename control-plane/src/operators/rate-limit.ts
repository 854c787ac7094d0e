/**
 * A per-key (client IP) limiter in memory, for the public routes that take a secret: login and enroll.
 * Two rules:
 *   - rate: at most `attempts` calls per `windowMs` (fixed window), whatever their outcome;
 *   - lockout: `failures` failed calls within a window lock the key out for `lockoutMs`.
 * Over either rule the call is refused with TooManyRequestsError (429 + Retry-After) before any secret is
 * checked. Memory is bounded: past `maxKeys` the oldest windows are dropped (an attacker rotating addresses
 * gains nothing an attacker with that many addresses lacks anyway). Per-process by design: the per-username
 * lockout that must hold across processes lives in PostgreSQL (login-lockout.ts).
 */
import { TooManyRequestsError } from '@sluice/shared/errors';

export interface RateLimitOptions {
  attempts: number;
  windowMs: number;
  failures: number;
  lockoutMs: number;
  maxKeys?: number;
  now?: () => number;
}

interface Window {
  startedAt: number;
  attempts: number;
  failures: number;
  lockedUntil: number;
}

export class RateLimiter {
  readonly #options: Required<Omit<RateLimitOptions, 'now'>>;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(options: RateLimitOptions) {
    this.#options = { maxKeys: 10_000, ...options };
    this.#now = options.now ?? Date.now;
  }

  /** Counts one call by `key`; throws TooManyRequestsError when it is over the rate or locked out. */
  attempt(key: string, what = 'attempts'): void {
    const now = this.#now();
    const window = this.#window(key, now);
    if (window.lockedUntil > now) throw this.#refusal(`too many failed ${what} from this address`, window.lockedUntil - now);
    if (window.attempts >= this.#options.attempts) throw this.#refusal(`too many ${what} from this address`, window.startedAt + this.#options.windowMs - now);
    window.attempts++;
  }

  /** A failed call (wrong password, bad token): enough of them lock the key out. */
  failed(key: string): void {
    const now = this.#now();
    const window = this.#window(key, now);
    if (++window.failures >= this.#options.failures) window.lockedUntil = now + this.#options.lockoutMs;
  }

  /** A successful call forgets the key's failures. */
  succeeded(key: string): void {
    const window = this.#windows.get(key);
    if (window) window.failures = 0;
  }

  #window(key: string, now: number): Window {
    let window = this.#windows.get(key);
    if (window && now - window.startedAt >= this.#options.windowMs && window.lockedUntil <= now) {
      this.#windows.delete(key);
      window = undefined;
    }
    if (!window) {
      if (this.#windows.size >= this.#options.maxKeys) {
        // Map iteration is insertion order: the first key is the oldest window.
        const oldest = this.#windows.keys().next();
        if (!oldest.done) this.#windows.delete(oldest.value);
      }
      window = { startedAt: now, attempts: 0, failures: 0, lockedUntil: 0 };
      this.#windows.set(key, window);
    }
    return window;
  }

  #refusal(message: string, waitMs: number): Error {
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    return TooManyRequestsError(`${message}; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
  }
}
