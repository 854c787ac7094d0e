import { describe, expect, it } from 'vitest';
import { fetchShare } from './kafka.ts';

describe('fetchShare', () => {
  it('divides the consumer budget among the brokers, because the client fetches from each at once', () => {
    expect(fetchShare(1024 * 1024, 1)).toBe(1024 * 1024);
    expect(fetchShare(1024 * 1024, 3)).toBe(349_525);
    expect(3 * fetchShare(1024 * 1024, 3)).toBeLessThanOrEqual(1024 * 1024);
  });

  it('keeps a fetch worth its round trip (64 KiB at least), and takes an empty broker list as one', () => {
    expect(fetchShare(256 * 1024, 8)).toBe(64 * 1024);
    expect(fetchShare(512 * 1024, 0)).toBe(512 * 1024);
  });
});
