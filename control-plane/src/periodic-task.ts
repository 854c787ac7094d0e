/**
 * Background work on an interval (rollout steps, anomaly detection, retention): one run at a time — a tick
 * that finds the previous run still going is skipped, never queued — and `stop` waits for the run in flight,
 * so a process shuts down without cutting a transaction short. Timers are unref'd: they never hold a
 * process open. A failed run is reported and the next tick tries again.
 */
export interface PeriodicTaskOptions {
  intervalMs: number;
  run: () => Promise<unknown>;
  onError: (error: unknown) => void;
  /** Run once at `start` as well, instead of waiting a whole interval. */
  immediate?: boolean;
}

export class PeriodicTask {
  readonly #o: PeriodicTaskOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: PeriodicTaskOptions) {
    this.#o = options;
  }

  /** A no-op when already started or when the interval is 0 or less (the work is switched off). */
  start(): void {
    if (this.#timer || this.#o.intervalMs <= 0) return;
    this.#timer = setInterval(() => this.#tick(), this.#o.intervalMs);
    this.#timer.unref();
    if (this.#o.immediate) this.#tick();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #tick(): void {
    this.#running ??= this.#o
      .run()
      .then(() => undefined, this.#o.onError)
      .finally(() => (this.#running = undefined));
  }
}
