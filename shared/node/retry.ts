/**
 * The one retry wrapper (CONVENTIONS §3): jittered exponential backoff bounded by a deadline, honouring a
 * server's Retry-After. Callers classify failures by throwing `RetryableError` (retry, maybe after a given
 * delay); anything else ends the loop at once.
 */
import pRetry, { AbortError } from 'p-retry';
import { setTimeout as sleep } from 'node:timers/promises';

export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface RetryPolicy {
  /** Attempts after the first; Infinity means "until the deadline". */
  retries?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Total time the loop may take, from the first attempt. */
  deadlineMs?: number;
  signal?: AbortSignal;
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

export async function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  const maxDelayMs = policy.maxDelayMs ?? 30_000;
  return pRetry(
    async (attempt) => {
      try {
        return await operation(attempt);
      } catch (error) {
        if (error instanceof RetryableError) throw error;
        throw new AbortError(error instanceof Error ? error : new Error(String(error)));
      }
    },
    {
      retries: policy.retries ?? 5,
      minTimeout: policy.minDelayMs ?? 200,
      maxTimeout: maxDelayMs,
      factor: 2,
      randomize: true,
      maxRetryTime: policy.deadlineMs ?? Infinity,
      ...(policy.signal ? { signal: policy.signal } : {}),
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft, retryDelay }) => {
        if (retriesLeft <= 0) return;
        // Retry-After replaces our own backoff when it asks for longer: p-retry's delay runs after this wait.
        const asked = error instanceof RetryableError ? error.retryAfterMs : undefined;
        const extra = asked === undefined ? 0 : Math.max(0, Math.min(asked, maxDelayMs) - retryDelay);
        policy.onRetry?.(error, attemptNumber, retryDelay + extra);
        if (extra > 0) await sleep(extra, undefined, policy.signal ? { signal: policy.signal } : {});
      },
    },
  );
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
