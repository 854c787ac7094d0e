import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SafeStorageLike } from './platform.ts';
import { ServerList } from './server-list.ts';
import { TokenStore } from './token-store.ts';

/** A keychain stand-in: reversible, but the stored bytes are not the token. */
function fakeSafeStorage(options: { available?: boolean; backend?: string; key?: number } = {}): SafeStorageLike {
  const key = options.key ?? 0x5a;
  const xor = (b: Buffer) => Buffer.from(b.map((byte) => byte ^ key));
  return {
    isEncryptionAvailable: () => options.available ?? true,
    encryptString: (plain) => Buffer.concat([Buffer.from([key]), xor(Buffer.from(plain, 'utf8'))]),
    decryptString: (encrypted) => {
      if (encrypted[0] !== key) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return xor(encrypted.subarray(1)).toString('utf8');
    },
    ...(options.backend === undefined ? {} : { backend: () => options.backend! }),
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-console-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('TokenStore', () => {
  const token = 'slr_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';

  it('keeps a refresh token per control plane, encrypted, in a 0600 file', () => {
    const file = join(dir, 'tokens.json');
    const store = new TokenStore(file, fakeSafeStorage());
    store.save('https://cp.example.com:8443/some/path', token);
    store.save('http://127.0.0.1:8080', 'slr_other');
    expect(store.load('https://cp.example.com:8443')).toBe(token);
    expect(new TokenStore(file, fakeSafeStorage()).load('http://127.0.0.1:8080')).toBe('slr_other');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).not.toContain('slr_');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('writes nothing without a real keychain (unavailable, or Linux basic_text), so no usable token is left on disk', () => {
    for (const safe of [fakeSafeStorage({ available: false }), fakeSafeStorage({ backend: 'basic_text' })]) {
      const file = join(dir, `tokens-${String(Math.random())}.json`);
      const store = new TokenStore(file, safe);
      expect(store.persistent()).toBe(false);
      store.save('http://127.0.0.1:8080', token);
      expect(store.load('http://127.0.0.1:8080')).toBeNull();
      expect(() => statSync(file)).toThrow();
    }
    expect(new TokenStore(join(dir, 'k.json'), fakeSafeStorage({ backend: 'gnome_libsecret' })).persistent()).toBe(true);
  });

  it('forgets a token it cannot decrypt (another OS user or keychain) instead of failing', () => {
    const file = join(dir, 'tokens.json');
    new TokenStore(file, fakeSafeStorage({ key: 1 })).save('http://127.0.0.1:8080', token);
    const other = new TokenStore(file, fakeSafeStorage({ key: 2 }));
    expect(other.load('http://127.0.0.1:8080')).toBeNull();
    expect(readFileSync(file, 'utf8')).not.toContain('127.0.0.1');
  });

  it('clears, and reads a corrupt file as empty', () => {
    const file = join(dir, 'tokens.json');
    const store = new TokenStore(file, fakeSafeStorage());
    store.save('http://127.0.0.1:8080', token);
    store.clear('http://127.0.0.1:8080');
    expect(store.load('http://127.0.0.1:8080')).toBeNull();
    writeFileSync(file, '{not json');
    expect(store.load('http://127.0.0.1:8080')).toBeNull();
  });
});

describe('ServerList', () => {
  it('remembers origins, most recent first, without duplicates, across restarts', () => {
    const file = join(dir, 'servers.json');
    const list = new ServerList(file);
    list.remember('http://127.0.0.1:8080/console/');
    list.remember('https://cp.example.com');
    expect(list.remember('http://127.0.0.1:8080')).toEqual(['http://127.0.0.1:8080', 'https://cp.example.com']);
    expect(new ServerList(file).list()).toEqual(['http://127.0.0.1:8080', 'https://cp.example.com']);
    expect(list.forget('https://cp.example.com')).toEqual(['http://127.0.0.1:8080']);
  });

  it('refuses what is not an http(s) origin without credentials, and drops such entries from a tampered file', () => {
    const list = new ServerList(join(dir, 'servers.json'));
    expect(() => list.remember('file:///etc/passwd')).toThrow(/only http and https/);
    expect(() => list.remember('https://user:pw@cp.example.com')).toThrow(/username or password/);
    writeFileSync(join(dir, 'tampered.json'), JSON.stringify({ servers: ['http://ok.example', 'javascript:alert(1)', 42, 'http://ok.example/path'] }));
    expect(new ServerList(join(dir, 'tampered.json')).list()).toEqual(['http://ok.example']);
  });
});
