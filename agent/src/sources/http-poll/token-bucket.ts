import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A token bucket: `ratePerSecond` requests a second on average, bursts up to `burst` (default: one second's
 * worth, at least 1). `take()` waits for a token.
 */
export class TokenBucket {
  private readonly rate: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(ratePerSecond: number, options: { burst?: number; now?: () => number } = {}) {
    this.rate = ratePerSecond;
    this.burst = options.burst ?? Math.max(1, ratePerSecond);
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** Takes a token if one is there; otherwise returns how many ms until one will be. */
  tryTake(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  async take(signal?: AbortSignal): Promise<void> {
    for (let wait = this.tryTake(); wait > 0; wait = this.tryTake()) {
      await sleep(wait, undefined, { ref: false, ...(signal ? { signal } : {}) });
    }
  }
}
