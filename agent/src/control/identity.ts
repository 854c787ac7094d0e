/**
 * The agent's fleet identity, `<dataDir>/fleet/identity.json` (0600 in a 0700 folder): its agent id, the
 * control plane's URL and TLS trust, its credential, and its session `instance: { counter, nonce }`.
 *
 * Clone safety: every process start writes counter+1 and a fresh random nonce here (durably) BEFORE its
 * first request, and sends `x-sluice-instance: <counter>.<nonce>` on every request. The control plane keeps
 * the highest session it saw; a copy of this file on another device (a flashed image, a restored backup)
 * presents a session that is older, or the same counter with another nonce, and is refused. Its presence
 * is what makes the agent fleet-managed.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { AGENT_CREDENTIAL_PREFIX, AGENT_ID_PATTERN, formatInstanceHeader, type AgentInstance } from '@sluice/shared/fleet/checkin';
import { readOptionalFile, writePrivateFile } from './private-file.ts';

export interface AgentIdentity {
  agentId: string;
  /** Base URL of the control plane. */
  url: string;
  /** `sla_…`: never logged, never printed. */
  credential: string;
  /** PEM file of the CA the control plane's certificate must chain to (absolute path). */
  caFile?: string;
  instance: AgentInstance;
}

/** identity.json is there but unusable: the agent cannot know who it is, so it does not start. */
export class IdentityFileError extends Error {
  constructor(file: string, reason: string) {
    super(`${file}: ${reason}; re-enroll this device with \`sluice-agent enroll --force\``);
    this.name = 'IdentityFileError';
  }
}

export function fleetDir(dataDir: string): string {
  return path.join(dataDir, 'fleet');
}

export function identityFile(dataDir: string): string {
  return path.join(fleetDir(dataDir), 'identity.json');
}

/** A nonce as the control plane accepts it (INSTANCE_NONCE_PATTERN): 24 random bytes, base64url. */
export function newNonce(): string {
  return randomBytes(24).toString('base64url');
}

export function readIdentity(dataDir: string): AgentIdentity | undefined {
  const file = identityFile(dataDir);
  const text = readOptionalFile(file);
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new IdentityFileError(file, `is not JSON (${(error as Error).message})`);
  }
  const problem = identityProblem(parsed);
  if (problem !== undefined) throw new IdentityFileError(file, problem);
  return parsed as AgentIdentity;
}

export function writeIdentity(dataDir: string, identity: AgentIdentity): void {
  writePrivateFile(identityFile(dataDir), `${JSON.stringify(identity, null, 2)}\n`);
}

/**
 * Starts this process's session: counter+1 and a new nonce, on disk before anything is sent, so that the
 * next start can never reuse this session even after a crash.
 */
export function beginSession(dataDir: string, identity: AgentIdentity): AgentIdentity {
  const next: AgentIdentity = { ...identity, instance: { counter: identity.instance.counter + 1, nonce: newNonce() } };
  writeIdentity(dataDir, next);
  return next;
}

export function instanceHeaderOf(identity: AgentIdentity): string {
  return formatInstanceHeader(identity.instance);
}

const AGENT_ID = new RegExp(AGENT_ID_PATTERN);

function identityProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return 'is not an object';
  const v = value as Record<string, unknown>;
  if (typeof v.agentId !== 'string' || !AGENT_ID.test(v.agentId)) return 'agentId is missing or invalid';
  if (typeof v.url !== 'string' || !/^https?:\/\//.test(v.url)) return 'url is missing or not http(s)';
  if (typeof v.credential !== 'string' || !v.credential.startsWith(AGENT_CREDENTIAL_PREFIX)) return 'credential is missing or invalid';
  if (v.caFile !== undefined && typeof v.caFile !== 'string') return 'caFile must be a path';
  const instance = v.instance as Record<string, unknown> | undefined;
  if (instance === null || typeof instance !== 'object' || !Number.isSafeInteger(instance.counter) || (instance.counter as number) < 1 || typeof instance.nonce !== 'string') {
    return 'instance is missing or invalid';
  }
  return undefined;
}
