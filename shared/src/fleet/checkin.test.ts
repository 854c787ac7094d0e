import { describe, expect, it } from 'vitest';
import { formatInstanceHeader, parseInstanceHeader } from './checkin.ts';

describe('x-sluice-instance', () => {
  it('round-trips a session and refuses anything malformed', () => {
    const session = { counter: 42, nonce: 'AbCdEfGhIjKlMnOp_-12' };
    expect(parseInstanceHeader(formatInstanceHeader(session))).toEqual(session);
    for (const bad of [undefined, '', '42', '0.AbCdEfGhIjKlMnOp', '-1.AbCdEfGhIjKlMnOp', '42.short', '42.AbCdEfGhIjKlMnOp.x', '99999999999999999.AbCdEfGhIjKlMnOp']) {
      expect(parseInstanceHeader(bad)).toBeUndefined();
    }
  });
});
