import { describe, expect, it } from 'vitest';
import { RetryableError, parseRetryAfter, withRetry } from '../node/retry.ts';

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
