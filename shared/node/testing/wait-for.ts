/**
 * The one poller tests wait with: every package's "until this is true" and "until this store holds that"
 * goes through it, so timeouts, the interval and what a timed-out wait says are decided here once.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** How long before giving up; 15 s unless told. */
  timeoutMs?: number;
  /** The pause between two checks; 50 ms unless told. */
  intervalMs?: number;
  /** Named in the timeout error: "timed out waiting for <what>". */
  what?: string;
  /** More for the timeout error, read when it is thrown: the last value seen, a process's output. */
  detail?: () => string;
}

/**
 * Polls until `check` returns a truthy value (a thrown error counts as not yet) and returns that value; fails
 * with `what`, the last error and `detail` once the time is up. `options` may be just the timeout.
 */
export async function waitFor<T>(check: () => T | Promise<T>, options: number | WaitOptions = {}, what?: string): Promise<NonNullable<T>> {
  const { timeoutMs = 15_000, intervalMs = 50, detail, ...named } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out waiting for ${what ?? named.what ?? 'condition'}${reason}${detail ? `\n${detail()}` : ''}`);
    }
    await sleep(intervalMs);
  }
}
