import { describe, expect, it } from 'vitest';
import { bearerToken, tokenDigest, tokenMatches } from '../node/bearer-token.ts';

describe('bearer token', () => {
  it('reads the token of an Authorization header, whatever the scheme case', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('matches only the token the digest was made of, whatever the length of what was sent', () => {
    const digest = tokenDigest('s3cret-token');
    expect(tokenMatches('s3cret-token', digest)).toBe(true);
    expect(tokenMatches('s3cret-tokem', digest)).toBe(false);
    expect(tokenMatches('s', digest)).toBe(false);
    expect(tokenMatches('s3cret-token-and-more', digest)).toBe(false);
    expect(tokenMatches(undefined, digest)).toBe(false);
  });
});
