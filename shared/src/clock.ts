/**
 * Time, injected wherever code waits or measures, so tests drive it with a manual clock
 * (`@sluice/shared/node/testing/manual-clock`) instead of real sleeps: vitest's fake timers do not patch
 * `node:timers/promises`, and a test that sleeps and then asserts nothing happened proves little.
 */
export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number;
  /**
   * Resolves after `ms`; rejects with the signal's reason when `signal` aborts first. The system clock's
   * timer never keeps the process alive on its own (it is unref'd where the runtime allows), as every wait
   * in Sluice is one that shutdown must be able to walk away from.
   */
  sleep(ms: number, options?: { readonly signal?: AbortSignalLike | undefined }): Promise<void>;
}

/** What a sleep needs of an AbortSignal (the isomorphic lib has neither DOM nor Node typings for it). */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Why the signal aborted, as an Error (an abort without a reason already is one: a DOMException). */
export function abortReason(signal: AbortSignalLike | undefined): Error {
  const reason = signal?.reason;
  return reason instanceof Error ? reason : new Error(String(reason));
}

/** The two timer functions every JavaScript runtime has; the isomorphic lib has no typings for them. */
interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
const timers = globalThis as unknown as Timers;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, options) {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        timers.clearTimeout(handle);
        reject(abortReason(signal));
      };
      const handle = timers.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      (handle as { unref?: () => void }).unref?.();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};
