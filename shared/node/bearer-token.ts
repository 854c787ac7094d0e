import { createHash, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '')?.[1];
}

/** What a server keeps of a token it checks: its sha256, the only form it is ever compared in. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

/**
 * Whether `given` is the token `expected` is the digest of. Digests are compared, in constant time: equal
 * lengths whatever was sent, so neither the token nor its length leaks through timing.
 */
export function tokenMatches(given: string | undefined, expected: Buffer): boolean {
  return given !== undefined && timingSafeEqual(tokenDigest(given), expected);
}
