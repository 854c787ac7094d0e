/**
 * The one retry wrapper (CONVENTIONS §3): jittered exponential backoff bounded by a deadline, honouring a
 * server's Retry-After. One loop, two ways in:
 *
 *   retryOutcome(work answering an Outcome)      ok, failed ─────────► returned at once
 *                                                retryable ──────────► again (after `afterMs` if it asks for longer),
 *                                                                      until the retries or the deadline run out
 *                                                unclassified ───────► again until its budget is spent (attempts AND
 *                                                                      time): nobody knows whether it will go away
 *   withRetry(work that throws)                  RetryableError ─────► like retryable
 *                                                anything else ──────► rethrown at once
 *
 * Whatever ends the loop early (abort, an attempt that throws) rejects. Waits go through a `Clock`, so tests
 * drive them with a manual one.
 */
import { systemClock, type Clock } from '@sluice/shared/clock';
import { ok, retryable, type Outcome } from '@sluice/shared/outcome';

export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterMs = options.retryAfterMs;
  }
}

export interface Backoff {
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Total time the loop may take, from the first attempt. */
  deadlineMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface RetryPolicy extends Backoff {
  /** Attempts after the first (default 5); Infinity means "until the deadline". */
  retries?: number;
  /** Which thrown errors are tried again; by default `RetryableError`s only. */
  isRetryable?: (error: Error) => boolean;
  onRetry?: (error: Error, attempt: number, delayMs: number) => void;
}

/** How long an answer nobody classified is tried again: both must be spent. */
export interface UnclassifiedBudget {
  /** Unclassified answers before giving up (default 5)... */
  attempts?: number;
  /** ...and time since the first of them (default 60 s). */
  windowMs?: number;
}

/** The answers the loop tries again. */
export type Retrying<O extends Outcome> = Extract<O, { kind: 'retryable' | 'unclassified' }>;

/** What was spent when the loop gave up: for `unclassified`, its own attempts and time since the first. */
export interface Spent {
  attempts: number;
  elapsedMs: number;
}

export interface OutcomeRetryPolicy<O extends Outcome> extends Backoff {
  /** Attempts after the first (default Infinity: until the deadline). */
  retries?: number;
  unclassified?: UnclassifiedBudget;
  onRetry?: (outcome: Retrying<O>, attempt: number, delayMs: number) => void;
  /** The answer once the tries are spent; by default the last answer as it is. */
  onGiveUp?: (last: Retrying<O>, spent: Spent) => O;
}

/** setTimeout fires a longer delay at once, which would turn a long backoff into a tight loop. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** Tries `attempt` until it answers `ok` or `failed`, or the tries are spent (see the diagram above). */
export async function retryOutcome<O extends Outcome>(attempt: (attempt: number) => Promise<O>, policy: OutcomeRetryPolicy<O> = {}): Promise<O> {
  const clock = policy.clock ?? systemClock;
  const { signal } = policy;
  const retries = policy.retries ?? Infinity;
  const minDelayMs = policy.minDelayMs ?? 200;
  const maxDelayMs = policy.maxDelayMs ?? 30_000;
  const budget = { attempts: policy.unclassified?.attempts ?? 5, windowMs: policy.unclassified?.windowMs ?? 60_000 };
  const started = clock.now();
  const deadline = started + (policy.deadlineMs ?? Infinity);
  let unclassifiedAttempts = 0;
  let firstUnclassifiedAt = 0;
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    let outcome: O;
    try {
      outcome = await attempt(n);
    } catch (error) {
      // A cancellation is reported as one, never as the failure it interrupted.
      signal?.throwIfAborted();
      throw error;
    }
    signal?.throwIfAborted();
    if (outcome.kind === 'ok' || outcome.kind === 'failed') return outcome;
    const again = outcome as Retrying<O>;
    const now = clock.now();
    if (again.kind === 'unclassified') {
      if (unclassifiedAttempts++ === 0) firstUnclassifiedAt = now;
      const elapsedMs = now - firstUnclassifiedAt;
      if (unclassifiedAttempts >= budget.attempts && elapsedMs >= budget.windowMs) return giveUp(again, { attempts: unclassifiedAttempts, elapsedMs });
    }
    if (n > retries || now >= deadline) return giveUp(again, { attempts: n, elapsedMs: now - started });
    const delayMs = Math.min(backoffMs(n, minDelayMs, maxDelayMs, again.kind === 'retryable' ? again.afterMs : undefined), deadline - now);
    policy.onRetry?.(again, n, delayMs);
    if (delayMs > 0) await clock.sleep(delayMs, { signal });
  }

  function giveUp(last: Retrying<O>, spent: Spent): O {
    return policy.onGiveUp ? policy.onGiveUp(last, spent) : last;
  }
}

/** `operation` again while it throws `RetryableError` (or what `isRetryable` accepts); anything else ends the loop at once. */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, policy: RetryPolicy = {}): Promise<T> {
  let value: T | undefined;
  let last: Error | undefined;
  const { onRetry, retries, isRetryable = (error) => error instanceof RetryableError, ...backoff } = policy;
  const outcome = await retryOutcome(
    async (attempt) => {
      try {
        value = await operation(attempt);
        return ok;
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (!isRetryable(error)) throw error;
        last = error;
        return retryable(error.message, error instanceof RetryableError ? error.retryAfterMs : undefined);
      }
    },
    { ...backoff, retries: retries ?? 5, ...(onRetry ? { onRetry: (_outcome, attempt, delayMs) => onRetry(last!, attempt, delayMs) } : {}) },
  );
  if (outcome.kind !== 'ok') throw last!;
  return value as T;
}

/**
 * Attempt `n`'s wait: min·2ⁿ⁻¹, jittered up to twice that, capped at `maxDelayMs`; a Retry-After replaces
 * it when it asks for longer (itself capped, so a server cannot park us for an hour).
 */
function backoffMs(n: number, minDelayMs: number, maxDelayMs: number, afterMs: number | undefined): number {
  const exponential = minDelayMs === 0 ? 0 : Math.min(Math.round((1 + Math.random()) * minDelayMs * 2 ** (n - 1)), maxDelayMs);
  const asked = afterMs === undefined ? 0 : Math.min(afterMs, maxDelayMs);
  return Math.min(Math.max(exponential, asked), MAX_DELAY_MS);
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (value === undefined || value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
