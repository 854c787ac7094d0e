import { describe, expect, it } from 'vitest';
import { failed, ok, retryable, unclassified, type Outcome } from '../src/outcome.ts';
import { RetryableError, parseRetryAfter, retryOutcome, withRetry } from '../node/retry.ts';
import { ManualClock } from '../node/testing/manual-clock.ts';

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:05 GMT', Date.parse('Wed, 21 Oct 2026 07:28:00 GMT'))).toBe(5000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('withRetry', () => {
  it('retries retryable failures until success', async () => {
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new RetryableError('flaky');
        return 'done';
      },
      { minDelayMs: 1, maxDelayMs: 5 },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
  });

  it('stops at once on a failure that is not retryable', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error('bad request');
        },
        { minDelayMs: 1 },
      ),
    ).rejects.toThrow('bad request');
    expect(calls).toBe(1);
  });

  it('waits at least what Retry-After asked for', async () => {
    const started = Date.now();
    let calls = 0;
    const delays: number[] = [];
    await withRetry(
      async () => {
        calls += 1;
        if (calls === 1) throw new RetryableError('slow down', { retryAfterMs: 150 });
        return calls;
      },
      { minDelayMs: 1, maxDelayMs: 1000, onRetry: (_e, _a, delay) => delays.push(delay) },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(delays[0]).toBeGreaterThanOrEqual(150);
  });

  it('gives up after its retry budget with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new RetryableError(`attempt ${calls}`);
        },
        { retries: 2, minDelayMs: 1, maxDelayMs: 2 },
      ),
    ).rejects.toThrow('attempt 3');
  });
});

describe('retryOutcome', () => {
  /** Lets the loop reach its next sleep, then wakes it: what the code waits for is asserted between the two. */
  async function nextWait(clock: ManualClock): Promise<number> {
    await clock.untilSleeping();
    const [sleep] = clock.sleeping;
    clock.advance(sleep!.ms);
    return sleep!.ms;
  }

  it('answers ok and failed at once, and tries retryable again, waiting at least what afterMs asks', async () => {
    const clock = new ManualClock();
    expect(await retryOutcome(() => Promise.resolve(failed('no such column')), { clock })).toEqual(failed('no such column'));
    const answers: Outcome[] = [retryable('503', 4_000), retryable('refused'), ok];
    let calls = 0;
    const retrying = retryOutcome(() => Promise.resolve(answers[calls++]!), { clock, minDelayMs: 100, maxDelayMs: 10_000 });
    expect(await nextWait(clock)).toBe(4_000);
    const backoff = await nextWait(clock);
    // The second retry's own backoff: 100 · 2, jittered up to twice that.
    expect(backoff).toBeGreaterThanOrEqual(200);
    expect(backoff).toBeLessThanOrEqual(400);
    expect(await retrying).toEqual(ok);
    expect(calls).toBe(3);
  });

  it('tries unclassified until both its attempts and its time are spent, then gives up with the tally', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const retrying = retryOutcome(
      () => {
        calls++;
        return Promise.resolve(unclassified('XMinioInvalidResourceName'));
      },
      { clock, minDelayMs: 1_000, maxDelayMs: 1_000, unclassified: { attempts: 3, windowMs: 10_000 }, onGiveUp: (last, spent) => failed(`${last.reason} (${spent.attempts} attempts over ${spent.elapsedMs} ms)`) },
    );
    for (let i = 0; i < 3; i++) await nextWait(clock);
    // Three attempts are spent, ten seconds are not: still waiting to try again.
    await clock.untilSleeping();
    expect(calls).toBe(4);
    for (let i = 0; i < 7; i++) await nextWait(clock);
    expect(await retrying).toEqual(failed('XMinioInvalidResourceName (11 attempts over 10000 ms)'));
  });

  it('keeps within its deadline: the last wait is cut to what is left, then the last answer is returned', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const retrying = retryOutcome(() => (calls++, Promise.resolve(retryable('connect ECONNREFUSED'))), { clock, minDelayMs: 400, maxDelayMs: 400, deadlineMs: 1_000 });
    expect(await nextWait(clock)).toBe(400);
    expect(await nextWait(clock)).toBe(400);
    expect(await nextWait(clock)).toBe(200);
    expect(await retrying).toEqual(retryable('connect ECONNREFUSED'));
    expect(calls).toBe(4);
  });

  it('rejects when aborted while waiting, and rethrows what an attempt throws', async () => {
    const clock = new ManualClock();
    const shutdown = new AbortController();
    const retrying = retryOutcome(() => Promise.resolve(retryable('down')), { clock, signal: shutdown.signal });
    await clock.untilSleeping();
    shutdown.abort(new Error('shutting down'));
    await expect(retrying).rejects.toThrow('shutting down');
    await expect(retryOutcome(() => Promise.reject(new Error('ESHUTDOWN')), { clock })).rejects.toThrow('ESHUTDOWN');
  });

  it('drives withRetry too: Retry-After is what it waits for', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const retrying = withRetry(
      () => {
        calls++;
        if (calls === 1) return Promise.reject(new RetryableError('slow down', { retryAfterMs: 7_000 }));
        return Promise.resolve('done');
      },
      { clock, minDelayMs: 1, maxDelayMs: 60_000 },
    );
    expect(await nextWait(clock)).toBe(7_000);
    expect(await retrying).toBe('done');
  });

  it('tries any error again that isRetryable accepts, and rethrows the others', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const retrying = withRetry(() => (++calls < 3 ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(calls)), { clock, retries: Infinity, isRetryable: (e) => e.message === 'ECONNREFUSED' });
    await nextWait(clock);
    await nextWait(clock);
    expect(await retrying).toBe(3);
    await expect(withRetry(() => Promise.reject(new Error('bad request')), { clock, isRetryable: (e) => e.message === 'ECONNREFUSED' })).rejects.toThrow('bad request');
  });
});
