import { describe, expect, it } from 'vitest';
import { isSluiceError } from '@sluice/shared/errors';
import { RateLimiter } from './rate-limit.ts';

function refusal(run: () => void): { message: string; retryAfterSeconds: number } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!isSluiceError(error, 'TooManyRequestsError')) throw error;
    return { message: error.message, retryAfterSeconds: (error.details as { retryAfterSeconds: number }).retryAfterSeconds };
  }
}

describe('RateLimiter', () => {
  it('refuses past the rate until the window ends, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ attempts: 2, windowMs: 60_000, failures: 100, lockoutMs: 1, now: () => now });
    limiter.attempt('a');
    limiter.attempt('a');
    expect(refusal(() => limiter.attempt('a'))).toEqual({ message: 'too many attempts from this address; retry in 60 s', retryAfterSeconds: 60 });
    expect(refusal(() => limiter.attempt('b'))).toBeUndefined();
    now = 60_000;
    expect(refusal(() => limiter.attempt('a'))).toBeUndefined();
  });

  it('locks a key out after enough failures, and a success forgets them', () => {
    let now = 0;
    const limiter = new RateLimiter({ attempts: 100, windowMs: 60_000, failures: 3, lockoutMs: 300_000, now: () => now });
    limiter.failed('a');
    limiter.failed('a');
    limiter.succeeded('a');
    limiter.failed('a');
    limiter.failed('a');
    expect(refusal(() => limiter.attempt('a'))).toBeUndefined();
    limiter.failed('a');
    expect(refusal(() => limiter.attempt('a', 'enroll attempts'))).toMatchObject({ message: /too many failed enroll attempts/, retryAfterSeconds: 300 });
    // The lockout outlasts the rate window.
    now = 120_000;
    expect(refusal(() => limiter.attempt('a'))?.retryAfterSeconds).toBe(180);
    now = 300_001;
    expect(refusal(() => limiter.attempt('a'))).toBeUndefined();
  });

  it('keeps at most maxKeys windows', () => {
    const limiter = new RateLimiter({ attempts: 1, windowMs: 60_000, failures: 100, lockoutMs: 1, maxKeys: 2, now: () => 0 });
    limiter.attempt('a');
    limiter.attempt('b');
    limiter.attempt('c');
    // a's window was dropped to make room, so a starts afresh.
    expect(refusal(() => limiter.attempt('a'))).toBeUndefined();
    expect(refusal(() => limiter.attempt('c'))).toBeDefined();
  });
});
