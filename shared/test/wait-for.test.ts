import { describe, expect, it } from 'vitest';
import { waitFor } from '../node/testing/wait-for.ts';

describe('waitFor', () => {
  it('returns the first truthy value, counting a thrown error as not yet', async () => {
    let calls = 0;
    const value = await waitFor(() => {
      calls++;
      if (calls === 1) throw new Error('not up yet');
      return calls >= 3 ? { calls } : undefined;
    }, { intervalMs: 1 });
    expect(value).toEqual({ calls: 3 });
  });

  it('times out naming what it waited for, the last error and the detail', async () => {
    await expect(waitFor(() => Promise.reject(new Error('connection refused')), { timeoutMs: 30, intervalMs: 5, what: 'the broker', detail: () => 'log tail' })).rejects.toThrow(
      'timed out waiting for the broker: connection refused\nlog tail',
    );
    await expect(waitFor(() => false, 20, 'a flag')).rejects.toThrow(/^timed out waiting for a flag$/);
  });
});
