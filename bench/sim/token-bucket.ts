/**
 * A token bucket whose fill follows the run's schedule (timeline.ts) instead of a constant rate: tokens arrive
 * as events fall due (faster in a spike, none in a silence), the bucket holds at most `burst` of them, and
 * sending an event spends one. A sender that keeps up finds the bucket short and waits; one that cannot keep
 * up finds it full, and the tokens that spill over are the events it should have sent by now: `spilled`
 * counts them, which is how the simulator knows (and says) that it cannot reach the target rate.
 */

/** Tokens that have arrived by a run-time offset, and when a given total will have. */
export interface Fill {
  countBy(ms: number): number;
  dueAt(k: number): number;
}

export class TokenBucket {
  readonly #fill: Fill;
  readonly #burst: number;
  /** Tokens in the bucket at #at (may be negative: spent ahead, to be waited for). */
  #tokens = 1; // event 0 is due at the start
  #at = 0;
  /** Tokens that arrived in all (the fill's count at #at). */
  #arrived = 0;
  #spilled = 0;

  constructor(fill: Fill, burst: number) {
    if (!(burst >= 1)) throw new Error(`burst must be at least 1 (got ${burst})`);
    this.#fill = fill;
    this.#burst = burst;
  }

  /** Events the sender fell behind by: tokens that arrived into a full bucket. */
  get spilled(): number {
    return this.#spilled;
  }

  /**
   * Spends `n` tokens at run-time offset `nowMs` and answers how long to wait before sending what they pay
   * for (0: send now).
   */
  take(n: number, nowMs: number): number {
    this.#refill(nowMs);
    this.#tokens -= n;
    if (this.#tokens >= 0) return 0;
    // Spent ahead: wait until the fill has brought the missing tokens.
    const dueMs = this.#fill.dueAt(this.#arrived - this.#tokens);
    return Math.max(0, dueMs - nowMs);
  }

  #refill(nowMs: number): void {
    if (nowMs <= this.#at) return;
    const arrived = this.#fill.countBy(nowMs);
    const room = this.#burst - this.#tokens;
    const added = arrived - this.#arrived;
    if (added > room) {
      this.#spilled += added - Math.max(0, room);
      this.#tokens = Math.max(this.#tokens, this.#burst);
    } else this.#tokens += added;
    this.#arrived = arrived;
    this.#at = nowMs;
  }
}
