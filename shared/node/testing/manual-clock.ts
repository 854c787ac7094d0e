import { abortReason, type AbortSignalLike, type Clock } from '@sluice/shared/clock';

/** One pending `sleep`: what the code under test is waiting for. */
export interface Sleeper {
  readonly ms: number;
  readonly wakeAt: number;
}

interface PendingSleep extends Sleeper {
  readonly resolve: () => void;
}

/**
 * A clock that only moves when the test says so. Instead of sleeping and asserting that nothing happened, a
 * test waits until the code sleeps (`untilSleeping`), asserts what it waits for (`sleeping`), then `advance`s.
 */
export class ManualClock implements Clock {
  #now: number;
  #pending: PendingSleep[] = [];
  #watchers: Array<{ count: number; resolve: () => void }> = [];

  constructor(start = 1_700_000_000_000) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, options?: { readonly signal?: AbortSignalLike | undefined }): Promise<void> {
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<void>((resolve, reject) => {
      const entry: PendingSleep = {
        ms,
        wakeAt: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#remove(entry);
        reject(abortReason(signal));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.push(entry);
      this.#notify();
    });
  }

  /** The sleeps in progress, earliest wake-up first. */
  get sleeping(): readonly Sleeper[] {
    return [...this.#pending].sort((a, b) => a.wakeAt - b.wakeAt).map(({ ms, wakeAt }) => ({ ms, wakeAt }));
  }

  /** Resolves once at least `count` sleeps are in progress. */
  untilSleeping(count = 1): Promise<void> {
    if (this.#pending.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#watchers.push({ count, resolve }));
  }

  /** Moves time forward and wakes every sleep that is due by then, earliest first. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#pending.filter((p) => p.wakeAt <= this.#now).sort((a, b) => a.wakeAt - b.wakeAt);
    this.#pending = this.#pending.filter((p) => p.wakeAt > this.#now);
    for (const p of due) p.resolve();
  }

  #remove(entry: PendingSleep): void {
    this.#pending = this.#pending.filter((p) => p !== entry);
  }

  #notify(): void {
    const ready = this.#watchers.filter((w) => this.#pending.length >= w.count);
    this.#watchers = this.#watchers.filter((w) => this.#pending.length < w.count);
    for (const w of ready) w.resolve();
  }
}
