import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInstanceHeader } from '@sluice/shared/fleet/checkin';
import { beginSession, identityFile, IdentityFileError, instanceHeaderOf, newNonce, readIdentity, writeIdentity, type AgentIdentity } from './identity.ts';
import { readLastGood, writeLastGood } from './last-good.ts';

const identity: AgentIdentity = { agentId: 'gw-1-a1b2c3', url: 'https://cp.example:8080', credential: 'sla_secret', instance: { counter: 1, nonce: newNonce() } };

function dataDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'sluice-identity-'));
}

describe('identity.json', () => {
  it('is written 0600 in a 0700 folder, atomically (no temp file left, an old file replaced whole)', () => {
    const dir = dataDir();
    mkdirSync(path.join(dir, 'fleet'), { mode: 0o755 });
    writeFileSync(identityFile(dir), 'old and longer than the new content '.repeat(100), { mode: 0o644 });
    writeIdentity(dir, identity);
    expect(statSync(path.join(dir, 'fleet')).mode & 0o777).toBe(0o700);
    expect(statSync(identityFile(dir)).mode & 0o777).toBe(0o600);
    expect(readdirSync(path.join(dir, 'fleet'))).toEqual(['identity.json']);
    expect(JSON.parse(readFileSync(identityFile(dir), 'utf8'))).toEqual(identity);
    expect(readIdentity(dir)).toEqual(identity);
  });

  it('is absent for a standalone agent and refused clearly when damaged', () => {
    const dir = dataDir();
    expect(readIdentity(dir)).toBeUndefined();
    mkdirSync(path.join(dir, 'fleet'));
    writeFileSync(identityFile(dir), '{"agentId": "gw"');
    expect(() => readIdentity(dir)).toThrow(IdentityFileError);
    writeFileSync(identityFile(dir), JSON.stringify({ ...identity, credential: 'not-an-agent-credential' }));
    expect(() => readIdentity(dir)).toThrow(/credential is missing or invalid; re-enroll this device/);
  });

  it('starts every session with counter+1 and a fresh nonce, on disk before it is used', () => {
    const dir = dataDir();
    writeIdentity(dir, identity);
    const first = beginSession(dir, readIdentity(dir)!);
    const second = beginSession(dir, readIdentity(dir)!);
    expect(first.instance.counter).toBe(2);
    expect(second.instance.counter).toBe(3);
    expect(new Set([identity.instance.nonce, first.instance.nonce, second.instance.nonce]).size).toBe(3);
    expect(readIdentity(dir)).toEqual(second);
    // What the control plane parses back from the header is exactly the session on disk.
    expect(parseInstanceHeader(instanceHeaderOf(second))).toEqual(second.instance);
    expect(second.credential).toBe(identity.credential);
  });
});

describe('last-good.json', () => {
  it('round-trips 0600 and an unreadable one is ignored with a reason', () => {
    const dir = dataDir();
    expect(readLastGood(dir).lastGood).toBeUndefined();
    const lastGood = { revision: { policy: 'edge', number: 2 }, hash: 'a'.repeat(64), config: { sources: [] } };
    writeLastGood(dir, lastGood);
    expect(statSync(path.join(dir, 'fleet', 'last-good.json')).mode & 0o777).toBe(0o600);
    expect(readLastGood(dir).lastGood).toEqual(lastGood);
    writeFileSync(path.join(dir, 'fleet', 'last-good.json'), 'garbage');
    expect(readLastGood(dir)).toMatchObject({ lastGood: undefined, problem: expect.stringMatching(/ignored$/) as unknown });
  });
});
