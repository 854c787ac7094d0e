/**
 * The control plane's fleet metrics on its real /metrics, over real PostgreSQL: check-ins counted by result
 * (those the auth hook refused included) and timed, agents by connectivity and rollouts by state read at
 * scrape time (absent while PostgreSQL is down), rollbacks counted automatic vs manual. The exposition
 * passes `promtool check metrics`.
 */
import { execFile, execFileSync } from 'node:child_process';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { FleetSummaryService } from '../src/fleet/fleet-summary.ts';
import { createPolicyServices, type PolicyServices } from '../src/fleet/policy-services.ts';
import { ControlPlaneMetrics } from '../src/metrics/metrics.ts';
import { registerFleetGauges } from '../src/metrics/fleet-gauges.ts';
import { checkIn, insertAgent, registerDataset } from './support/fleet-rows.ts';
import { bearer, checkin, createToken, enrolledAgent, okCheckin } from './support/fleet-requests.ts';
import { freshState, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let services: PolicyServices;
const metrics = new ControlPlaneMetrics();
const ADMIN = 'bootstrap-admin-key-for-fleet-metrics-0123456';
let t = Date.now();

beforeAll(async () => {
  state = await freshState();
  await new ApiKeyStore(state.pool).bootstrapAdmin(ADMIN);
  await registerDataset(state.pool, 'app_logs');
  services = createPolicyServices(state.pool, { now: () => t, onRollback: (reason) => metrics.fleetRollbacks.inc({ reason }) });
  server = await testServer(state.pool, { metrics, policies: services });
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

async function scrape(): Promise<string> {
  const response = await server.app.inject({ method: 'GET', url: '/metrics', headers: bearer(ADMIN) });
  expect(response.statusCode).toBe(200);
  return response.body;
}

/** The value of one sample line, e.g. `sluice_fleet_agents{status="online"}`; undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const pipeline = (startAt: string) => ({ sources: [{ type: 'file', id: 'app', dataset: 'app_logs', include: ['/var/log/app/*.log'], startAt }] });

/** A policy selecting two fresh agents, with revisions 1 (current) and 2; answers the agents and hash of 2. */
async function policyWithTwoRevisions(): Promise<{ policy: string; agents: string[]; hash1: string; hash2: string }> {
  const policy = `m-${suffix()}`;
  const agents = [`${policy}-a`, `${policy}-b`];
  for (const id of agents) await insertAgent(state.pool, id, { group: policy });
  const post = (url: string, payload: Record<string, unknown>) => server.app.inject({ method: 'POST', url, headers: bearer(ADMIN), payload });
  expect((await post('/api/v1/policies', { name: policy, selector: { labels: { group: policy } } })).statusCode).toBe(201);
  const r1 = await post(`/api/v1/policies/${policy}/revisions`, { config: pipeline('beginning') });
  const r2 = await post(`/api/v1/policies/${policy}/revisions`, { config: pipeline('end') });
  return { policy, agents, hash1: r1.json<{ hash: string }>().hash, hash2: r2.json<{ hash: string }>().hash };
}

describe('fleet metrics', () => {
  it('counts check-ins by result, refusals included, and times them apart from long-polls', async () => {
    const token = (await createToken(server.app, ADMIN, { maxUses: 10 })).token;
    const agent = await enrolledAgent(server.app, token);
    await okCheckin(server.app, agent);
    await okCheckin(server.app, agent);
    const refused = await checkin(server.app, { credential: `sla_${'x'.repeat(43)}`, session: agent.session });
    expect(refused.statusCode).toBe(401);
    const text = await scrape();
    expect(sample(text, 'sluice_fleet_checkins_total{result="ok"}')).toBe(2);
    expect(sample(text, 'sluice_fleet_checkins_total{result="unauthorized"}')).toBe(1);
    expect(sample(text, 'sluice_fleet_checkin_seconds_count{long_poll="false"}')).toBe(3);
  });

  it('reports agents by connectivity and rollouts by state from PostgreSQL at scrape time', async () => {
    await insertAgent(state.pool, `gauge-${suffix()}`);
    await state.pool.query(`INSERT INTO agents (id, name, credential_hash, instance_counter, instance_nonce, hostname, version, status) VALUES ($1, $1, $1, 1, 'n', $1, '0.1.0', 'revoked')`, [`revoked-${suffix()}`]);
    const { count } = (await state.pool.query<{ count: string }>(`SELECT count(*) FROM agents WHERE status = 'active' AND last_seen_at >= now() - interval '90 seconds'`)).rows[0]!;
    const text = await scrape();
    expect(sample(text, 'sluice_fleet_agents{status="online"}')).toBe(Number(count));
    expect(sample(text, 'sluice_fleet_agents{status="revoked"}')).toBe(1);
    expect(sample(text, 'sluice_fleet_agents{status="offline"}')).toBe(0);
    // Every state has a series, so a rule can compare it without absent().
    expect(sample(text, 'sluice_fleet_rollouts{state="running"}')).toBe(0);
  });

  it('counts a manual rollback (policy rollback) and an automatic one (failed gate)', async () => {
    const manual = await policyWithTwoRevisions();
    const all = await server.app.inject({ method: 'POST', url: `/api/v1/policies/${manual.policy}/rollouts`, headers: bearer(ADMIN), payload: { revision: 2, strategy: { kind: 'all' } } });
    expect(all.statusCode, all.body).toBe(201);
    const back = await server.app.inject({ method: 'POST', url: `/api/v1/policies/${manual.policy}/rollback`, headers: bearer(ADMIN), payload: { revision: 1 } });
    expect(back.statusCode, back.body).toBe(200);
    let text = await scrape();
    expect(sample(text, 'sluice_fleet_rollbacks_total{reason="manual"}')).toBe(1);
    expect(sample(text, 'sluice_fleet_rollbacks_total{reason="automatic"}')).toBeUndefined();

    const { policy, agents, hash1, hash2 } = await policyWithTwoRevisions();
    const started = await server.app.inject({
      method: 'POST',
      url: `/api/v1/policies/${policy}/rollouts`,
      headers: bearer(ADMIN),
      payload: { revision: 2, strategy: { kind: 'staged', canary: { agents: [agents[0]] }, waves: [{ percent: 100 }], soakSeconds: 60 } },
    });
    expect(started.statusCode, started.body).toBe(201);
    expect(sample(await scrape(), 'sluice_fleet_rollouts{state="running"}')).toBe(1);
    t += 2000;
    await checkIn(state.pool, agents[0]!, { at: t, hash: hash1, state: 'rolled-back', applyHash: hash2, reason: 'sources.app: failed to start', shipped: {}, startedAt: t - 60_000 });
    expect(await services.engine.tick()).toContain(started.json<{ id: number }>().id);
    text = await scrape();
    expect(sample(text, 'sluice_fleet_rollbacks_total{reason="automatic"}')).toBe(1);
    expect(sample(text, 'sluice_fleet_rollbacks_total{reason="manual"}')).toBe(1);
    expect(sample(text, 'sluice_fleet_rollouts{state="rolling-back"}')).toBe(1);
  });

  it.skipIf(!hasPromtool())('passes promtool check metrics', async () => {
    const text = await scrape();
    const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile('promtool', ['check', 'metrics'], (error, _stdout, stderr) => resolve({ code: error ? 1 : 0, stderr }));
      child.stdin?.end(text);
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('leaves the PostgreSQL-read series out while PostgreSQL is unreachable, and still serves the rest', async () => {
    const dead = new pg.Pool({ connectionString: 'postgres://nobody:none@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const registry = new Registry();
    registerFleetGauges(registry, { pool: dead, summary: new FleetSummaryService(dead, { staleSeconds: 90, offlineSeconds: 300 }) });
    const text = await registry.metrics();
    await dead.end();
    expect(text).toContain('# TYPE sluice_fleet_agents gauge');
    expect(text.split('\n').filter((l) => l.startsWith('sluice_fleet_'))).toEqual([]);
  });
});

function hasPromtool(): boolean {
  try {
    execFileSync('sh', ['-c', 'command -v promtool'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
