import { describe, expect, it } from 'vitest';
import { checkPasswordPolicy, hashPassword, verifyPassword } from './passwords.ts';

describe('passwords (argon2id)', () => {
  it('stores a PHC string with its parameters and a fresh salt, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery');
    const b = await hashPassword('correct horse battery');
    expect(a).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterz', a)).toBe(false);
  });

  it('verifies with the parameters stored in the hash, so they can be raised later', async () => {
    const cheap = await hashPassword('an older password', { memory: 8192, passes: 1, parallelism: 1 });
    expect(cheap).toContain('m=8192,t=1,p=1');
    expect(await verifyPassword('an older password', cheap)).toBe(true);
  });

  it('verifies nothing against a malformed hash', async () => {
    expect(await verifyPassword('anything at all', 'plain-text')).toBe(false);
    expect(await verifyPassword('anything at all', '$argon2i$v=19$m=8192,t=1,p=1$AAAA$AAAA')).toBe(false);
  });

  it('needs at least 12 characters (counted as characters, not bytes)', () => {
    expect(() => checkPasswordPolicy('short')).toThrow('/password: must be at least 12 characters');
    expect(() => checkPasswordPolicy('ééééééééééé')).toThrow(/at least 12/);
    expect(() => checkPasswordPolicy('twelve chars')).not.toThrow();
  });
});
