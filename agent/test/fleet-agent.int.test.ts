/**
 * A real agent process, fleet-managed by a real control plane (in process, its own state schema, real
 * PostgreSQL) and shipping to real Kafka: enroll through the CLI, receive a pipeline, report `applied` only
 * once the source committed; a pipeline whose source cannot start is `failed`, then `rolled-back` to the
 * last good, which keeps shipping; restarted while the control plane is away it runs the last good and
 * re-syncs once it is back; a cloned identity is refused and stops its sources; the outbox ledger counts
 * exactly what reached Kafka.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePipeline } from '@sluice/shared/agent-config/validate';
import type { PipelineConfig } from '@sluice/shared/agent-config/pipeline';
import { testTopicPrefix } from '@sluice/shared/node/testing/test-resources';
// The real control plane in this process (its own state schema): the one place the agent's code meets it
// other than over HTTP. The agent's sources never import it.
/* eslint-disable no-restricted-imports */
import { ApiKeyStore } from '../../control-plane/src/auth/api-keys.ts';
import { createToken } from '../../control-plane/test/support/fleet-requests.ts';
import { revision, setDesired } from '../../control-plane/test/support/fleet-state.ts';
import { freshState } from '../../control-plane/test/support/state.ts';
import { testServer, type TestServer } from '../../control-plane/test/support/test-server.ts';
/* eslint-enable no-restricted-imports */
import { brokers, consume } from './support/agent-process.ts';

const BIN = path.join(import.meta.dirname, '../bin/sluice-agent.js');
const ADMIN = 'bootstrap-admin-key-for-fleet-agent-tests-0123';
const DATASET = 'fleet_it';

let state: Awaited<ReturnType<typeof freshState>>;
let apiKeys: ApiKeyStore;
let server: TestServer | undefined;
let cpPort = 0;
let token = '';
const topicPrefix = testTopicPrefix(`fleet_agent_${Math.random().toString(36).slice(2, 8)}`);
const children: ChildProcess[] = [];

async function startControlPlane(port = 0): Promise<void> {
  server = await testServer(state.pool, { apiKeys });
  await server.app.listen({ host: '127.0.0.1', port });
  cpPort = (server.app.server.address() as AddressInfo).port;
}

async function stopControlPlane(): Promise<void> {
  await server?.close();
  server = undefined;
}

interface TestAgent {
  dir: string;
  logs: string;
  configFile: string;
  port: number;
}

function agentDir(name: string): TestAgent {
  const dir = mkdtempSync(path.join(tmpdir(), `sluice-fleet-${name}-`));
  const logs = path.join(dir, 'logs');
  mkdirSync(logs);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const configFile = path.join(dir, 'agent.yaml');
  writeFileSync(
    configFile,
    `dataDir: ./data\nkafka:\n  brokers: ${JSON.stringify(brokers)}\n  topicPrefix: "${topicPrefix}"\nhttp:\n  listen: 127.0.0.1:${port}\nallowedRoots: [./logs]\n` +
      `controlPlane:\n  url: http://127.0.0.1:${cpPort}\n  checkinWaitSeconds: 2\n  applyTimeoutSeconds: 5\n`,
  );
  return { dir, logs, configFile, port };
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function run(agent: TestAgent): ChildProcess {
  const child = spawn(process.execPath, [BIN, 'run', '--config', agent.configFile], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SLUICE_LOG_LEVEL: 'error' } });
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

interface AgentStatus {
  sources: Array<{ id: string; state: string; firstCommitAt?: string; caughtUp?: boolean }>;
  fleet?: { refused?: string; running: { hash: string | null }; apply: { state: string; hash: string | null; at: string; reason?: string }; checkin: { lastCheckinAt?: string; lastError?: unknown } };
}

async function status(agent: TestAgent): Promise<AgentStatus | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${agent.port}/status`, { signal: AbortSignal.timeout(2000) });
    return (await res.json()) as AgentStatus;
  } catch {
    return undefined;
  }
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last: ${JSON.stringify(value)}`);
    await sleep(100);
  }
}

function pipelineOf(sources: unknown[]): PipelineConfig {
  const checked = validatePipeline({ sources });
  if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
  return checked.value;
}

const appLog = { type: 'file', id: 'app-log', dataset: DATASET, include: ['./logs/*.log'] };
const lines = (from: number, n: number): string => Array.from({ length: n }, (_, i) => `line ${from + i}\n`).join('');

async function agentRow(agentId: string): Promise<{ apply_state: string; reported_hash: string | null; apply_reason: string | null; last_seen_at: Date | null }> {
  const found = await state.pool.query<{ apply_state: string; reported_hash: string | null; apply_reason: string | null; last_seen_at: Date | null }>(
    'SELECT apply_state, reported_hash, apply_reason, last_seen_at FROM agents WHERE id = $1',
    [agentId],
  );
  return found.rows[0]!;
}

async function applyStates(agentId: string): Promise<string[]> {
  const found = await state.pool.query<{ apply_state: string }>('SELECT apply_state FROM agent_checkins WHERE agent_id = $1 ORDER BY at, id', [agentId]);
  return found.rows.map((r) => r.apply_state);
}

let main: TestAgent;
let agentId = '';
let good: { id: number; hash: string };
let mainProcess: ChildProcess;
let shipped = 0;
const topic = `${topicPrefix}${DATASET}`;

beforeAll(async () => {
  state = await freshState();
  apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  await startControlPlane();
  token = (await createToken(server!.app, ADMIN, { maxUses: 10 })).token;
  main = agentDir('main');
});

afterAll(async () => {
  for (const child of children) await stop(child);
  await stopControlPlane();
  await state?.drop();
});

describe('a fleet-managed agent', () => {
  it('standalone without an agentId is refused with a clear error (nothing is enrolled yet)', async () => {
    const standalone = await cli(['run', '--config', main.configFile]);
    expect(standalone.code).toBe(1);
    expect(standalone.stderr).toContain('agentId: is required for a standalone agent (or enroll it: sluice-agent enroll');
  });

  it('enrolls with the CLI: identity 0600, clear refusals for a bad token and a second enrollment', async () => {
    const refused = await cli(['enroll', '--config', main.configFile, '--url', `http://127.0.0.1:${cpPort}`, '--token', 'sle_not-a-token']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^enroll failed: the control plane at http:\/\/127\.0\.0\.1:\d+ refused the enrollment \(HTTP 401\): /);
    const unreachable = await cli(['enroll', '--config', main.configFile, '--url', 'http://127.0.0.1:1', '--token', token]);
    expect(unreachable.stderr).toMatch(/^enroll failed: cannot reach the control plane at http:\/\/127\.0\.0\.1:1/);
    // The token from the environment, as the packaged enroll unit passes it (not visible in `ps`).
    const ok = await cli(['enroll', '--config', main.configFile, '--url', `http://127.0.0.1:${cpPort}`, '--name', 'gw-main'], { SLUICE_ENROLL_TOKEN: token });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const identityPath = path.join(main.dir, 'data', 'fleet', 'identity.json');
    expect(statSync(identityPath).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(identityPath)).mode & 0o777).toBe(0o700);
    const identity = JSON.parse(readFileSync(identityPath, 'utf8')) as { agentId: string; credential: string };
    agentId = identity.agentId;
    expect(agentId).toMatch(/^gw-main-[0-9a-f]{6}$/);
    expect(ok.stdout).toContain(`enrolled as ${agentId}`);
    expect(ok.stdout).not.toContain(identity.credential);
    const again = await cli(['enroll', '--config', main.configFile, '--url', `http://127.0.0.1:${cpPort}`, '--token', token]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`already enrolled as ${agentId}`);
    expect(again.stderr).toContain('--force');
  });

  it('receives its pipeline and reports applied only after the source committed', async () => {
    good = await revision(state.pool, 'edge', 1, pipelineOf([appLog]));
    await setDesired(state.pool, agentId, good.id);
    appendFileSync(path.join(main.logs, 'app.log'), lines(0, 50));
    mainProcess = run(main);
    const applied = await eventually(() => status(main), (s) => s?.fleet?.apply.state === 'applied' && s.fleet.apply.hash === good.hash);
    const source = applied!.sources.find((s) => s.id === 'app-log')!;
    expect(source.state).toBe('running');
    // Honest: the source had committed its records before `applied` was claimed.
    expect(Date.parse(source.firstCommitAt!)).toBeLessThanOrEqual(Date.parse(applied!.fleet!.apply.at));
    const row = await eventually(() => agentRow(agentId), (r) => r.apply_state === 'applied' && r.reported_hash === good.hash);
    expect(row.apply_reason).toBeNull();
    expect(await applyStates(agentId)).toContain('applying');
    shipped = 50;
    expect(await consume(topic, () => false, 5000)).toBe(shipped);
  });

  it('a pipeline whose source cannot start: failed, rolled back to the last good, which keeps shipping', async () => {
    // A drop folder that is a regular file: valid config, but the source cannot create its folder.
    writeFileSync(path.join(main.logs, 'not-a-folder'), 'x');
    const broken = await revision(state.pool, 'edge', 2, pipelineOf([appLog, { type: 'drop', id: 'inbox', dataset: DATASET, path: './logs/not-a-folder' }]));
    await setDesired(state.pool, agentId, broken.id);
    const row = await eventually(() => agentRow(agentId), (r) => r.apply_state === 'rolled-back');
    expect(row.apply_reason).toMatch(/sources\.inbox: failed to start/);
    expect(row.reported_hash).toBe(good.hash);
    const states = await applyStates(agentId);
    expect(states.slice(states.lastIndexOf('applying'))).toEqual(['applying', 'failed', 'rolled-back']);
    const now = await status(main);
    expect(now!.fleet!.running.hash).toBe(good.hash);
    expect(now!.sources.map((s) => s.id)).toEqual(['app-log']);
    appendFileSync(path.join(main.logs, 'app.log'), lines(50, 20));
    shipped += 20;
    expect(await consume(topic, () => false, 8000)).toBe(shipped);
  });

  it('counts in its ledger exactly the records Kafka acknowledged, and the control plane receives it', async () => {
    const ledger = await eventually(
      async () => (await state.pool.query<{ n: string }>('SELECT coalesce(sum(shipped), 0) AS n FROM ledger_edge WHERE agent_id = $1 AND dataset = $2', [agentId, DATASET])).rows[0]!.n,
      (n) => Number(n) === shipped,
    );
    expect(Number(ledger)).toBe(shipped);
  });

  it('restarted while the control plane is away, it runs the last good and re-syncs when it is back', async () => {
    await setDesired(state.pool, agentId, good.id);
    await stop(mainProcess);
    await stopControlPlane();
    mainProcess = run(main);
    const offline = await eventually(() => status(main), (s) => s?.fleet?.apply.state === 'applied' && s.fleet.checkin.lastError !== undefined);
    expect(offline!.fleet!.running.hash).toBe(good.hash);
    appendFileSync(path.join(main.logs, 'app.log'), lines(70, 10));
    shipped += 10;
    expect(await consume(topic, () => false, 8000)).toBe(shipped);
    const before = (await agentRow(agentId)).last_seen_at!;
    await startControlPlane(cpPort);
    await eventually(() => agentRow(agentId), (r) => r.last_seen_at !== null && r.last_seen_at > before && r.apply_state === 'applied' && r.reported_hash === good.hash, 30_000);
  });

  it('refuses a local YAML with sources of its own once fleet-managed', async () => {
    const withSources = path.join(main.dir, 'with-sources.yaml');
    writeFileSync(withSources, `${readFileSync(main.configFile, 'utf8')}sources:\n  - { type: file, id: local, dataset: ${DATASET}, include: ['./logs/*.log'] }\n`);
    const refused = await cli(['run', '--config', withSources]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('sources: must be empty: this agent is fleet-managed');
  });

  it('a cloned identity is refused: the clone stops its sources and says why, the original keeps running', async () => {
    // The image: this device's data dir as it is on disk now, copied to another device.
    const clone = agentDir('clone');
    cpSync(path.join(main.dir, 'data', 'fleet'), path.join(clone.dir, 'data', 'fleet'), { recursive: true });
    appendFileSync(path.join(clone.logs, 'app.log'), lines(0, 5));
    await stop(mainProcess);
    mainProcess = run(main);
    await eventually(() => status(main), (s) => s?.fleet?.checkin.lastCheckinAt !== undefined && s.fleet.apply.state === 'applied');
    run(clone);
    const refused = await eventually(() => status(clone), (s) => s?.fleet?.refused !== undefined && s.sources.length === 0);
    expect(refused!.fleet!.refused).toMatch(/this identity is in use by another instance/);
    await sleep(3000);
    const original = await status(main);
    expect(original!.fleet!.refused).toBeUndefined();
    expect(original!.sources.map((s) => s.state)).toEqual(['running']);
  });

  it('revoked, it is cut off at its next request: sources stopped, /status says why', async () => {
    const revoke = await server!.app.inject({ method: 'POST', url: `/api/v1/agents/${agentId}/revoke`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(revoke.statusCode).toBe(200);
    const refused = await eventually(() => status(main), (s) => s?.fleet?.refused !== undefined && s.sources.length === 0, 15_000);
    expect(refused!.fleet!.refused).toMatch(new RegExp(`agent ${agentId} was revoked`));
  });
});
