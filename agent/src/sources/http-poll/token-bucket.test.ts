import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.ts';
import { atPath } from '@sluice/shared/dot-path';

describe('TokenBucket', () => {
  it('allows a burst, then one token per 1/rate seconds', () => {
    let now = 0;
    const bucket = new TokenBucket(2, { now: () => now });
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(0);
    expect(bucket.tryTake()).toBe(500);
    now = 250;
    expect(bucket.tryTake()).toBe(250);
    now = 500;
    expect(bucket.tryTake()).toBe(0);
  });
});

describe('atPath', () => {
  it('walks objects and arrays', () => {
    expect(atPath({ a: { b: [1, { c: 'x' }] } }, 'a.b.1.c')).toBe('x');
    expect(atPath([1], '')).toEqual([1]);
    expect(atPath({ a: 1 }, 'a.b')).toBeUndefined();
  });
});
