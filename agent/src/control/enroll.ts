/**
 * `sluice-agent enroll --config agent.yaml --url URL --token T [--ca ca.pem] [--name N] [--force]`: trades an
 * enrollment token for an agent id and credential and writes them to `<dataDir>/fleet/identity.json`. From
 * then on `sluice-agent run` with this config is fleet-managed. Every refusal says why in one sentence.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import path from 'node:path';
import { ResponseError } from '@sluice/shared/api/response-error';
import type { LoadedConfig } from '../config/load-config.ts';
import { AGENT_VERSION } from './agent-version.ts';
import { ControlPlaneClient, ControlPlaneUnreachableError } from './control-plane-client.ts';
import { identityFile, newNonce, readIdentity, writeIdentity, type AgentIdentity } from './identity.ts';
import { lastGoodFile } from './last-good.ts';

export interface EnrollOptions {
  loaded: LoadedConfig;
  url: string;
  token: string;
  caFile?: string | undefined;
  name?: string | undefined;
  /** Replace an existing identity (the old agent id stays known to the control plane: revoke it there). */
  force?: boolean;
  hostname?: string;
  timeoutMs?: number;
}

/** Enrollment did not happen; the message is what the operator needs to hear. */
export class EnrollError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrollError';
  }
}

export function dataDirOf(loaded: LoadedConfig): string {
  return path.resolve(loaded.baseDir, loaded.config.dataDir);
}

export async function enroll(options: EnrollOptions): Promise<AgentIdentity> {
  const { loaded } = options;
  const dataDir = dataDirOf(loaded);
  if (!/^https?:\/\//.test(options.url)) throw new EnrollError(`--url ${options.url}: must be an http:// or https:// URL`);
  if (loaded.config.agentId !== undefined) {
    throw new EnrollError(`${loaded.file}: agentId: remove it; a fleet-managed agent gets its id from enrollment`);
  }
  if (loaded.config.sources.length > 0) {
    throw new EnrollError(`${loaded.file}: sources: remove them; a fleet-managed agent runs the pipeline its control plane assigns`);
  }
  const existing = existsSync(identityFile(dataDir)) ? safeIdentity(dataDir) : undefined;
  if (existing !== undefined && options.force !== true) {
    throw new EnrollError(
      `already enrolled as ${existing.agentId} with ${existing.url} (${identityFile(dataDir)}); pass --force to enroll again (then revoke ${existing.agentId} in the control plane)`,
    );
  }
  const caFile = options.caFile === undefined ? undefined : path.resolve(options.caFile);
  if (caFile !== undefined) {
    try {
      readFileSync(caFile);
    } catch (error) {
      throw new EnrollError(`--ca ${caFile}: cannot read: ${(error as Error).message}`);
    }
  }
  const client = new ControlPlaneClient({ url: options.url, caFile, timeoutMs: options.timeoutMs ?? loaded.config.controlPlane?.timeoutMs ?? 10_000 });
  const instance = { counter: 1, nonce: newNonce() };
  let answer;
  try {
    answer = await client.enroll({
      token: options.token,
      hostname: options.hostname ?? osHostname(),
      version: AGENT_VERSION,
      instance,
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  } catch (error) {
    if (error instanceof ResponseError) throw new EnrollError(`the control plane at ${options.url} refused the enrollment (HTTP ${error.status}): ${error.message}`);
    if (error instanceof ControlPlaneUnreachableError) throw new EnrollError(`cannot reach the control plane at ${options.url}: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    throw error;
  }
  const identity: AgentIdentity = { agentId: answer.agentId, url: options.url, credential: answer.credential, ...(caFile === undefined ? {} : { caFile }), instance };
  writeIdentity(dataDir, identity);
  // The previous identity's pipeline is not this agent's: it waits for its own.
  if (existing !== undefined) rmSync(lastGoodFile(dataDir), { force: true });
  return identity;
}

function safeIdentity(dataDir: string): AgentIdentity | { agentId: string; url: string } {
  try {
    return readIdentity(dataDir) ?? { agentId: '(unknown)', url: '(unknown)' };
  } catch {
    return { agentId: '(unreadable identity)', url: '(unknown)' };
  }
}
