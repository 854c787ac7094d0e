import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { createPolicyServices, type PolicyServices } from '../src/fleet/policy-services.ts';
import { checkIn, desiredOf, insertAgent, registerDataset } from './support/fleet-rows.ts';
import { freshState, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

// Real PostgreSQL; check-ins written the way the check-in writer stores them, under a clock of the test's
// own, so soak times pass without waiting.
let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
let services: PolicyServices;
let t = Date.parse('2026-01-01T00:00:00Z');
const now = (): number => t;
const headers = { authorization: '' };
const started = t - 3_600_000;

interface Sim {
  id: string;
  shipped: number;
}

const pipeline = (startAt: 'beginning' | 'end') => ({ sources: [{ type: 'file', id: 'app', dataset: 'app_logs', include: ['/var/log/app/*.log'], startAt }] });

/** A policy of its own with three agents running revision 1, each shipping 10 records/s for ten minutes. */
async function fleetOf3(): Promise<{ policy: string; agents: Sim[]; hash1: string; hash2: string }> {
  const policy = `p-${suffix()}`;
  const group = policy;
  const agents: Sim[] = ['a', 'b', 'c'].map((x) => ({ id: `${policy}-${x}`, shipped: 0 }));
  for (const agent of agents) await insertAgent(state.pool, agent.id, { group });
  expect((await app.inject({ method: 'POST', url: '/api/v1/policies', headers, payload: { name: policy, selector: { labels: { group } } } })).statusCode).toBe(201);
  const r1 = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/revisions`, headers, payload: { config: pipeline('beginning'), message: 'first' } });
  expect(r1.statusCode, r1.body).toBe(201);
  const r2 = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/revisions`, headers, payload: { config: pipeline('end') } });
  const hash1 = r1.json<{ hash: string }>().hash;
  for (let i = 10; i >= 0; i -= 1) {
    for (const agent of agents) await report(agent, hash1, 'applied', 10, t - i * 60_000);
  }
  return { policy, agents, hash1, hash2: r2.json<{ hash: string }>().hash };
}

/**
 * One check-in of `agent` at `at`, having shipped `rate` records/s since its last one. `failure` is the hash a
 * failed / rolled-back state is about (the agent then runs `hash`, its last good) and why.
 */
async function report(agent: Sim, hash: string, applyState: 'applied' | 'failed' | 'rolled-back', rate: number, at = t, failure?: { hash: string; reason: string }): Promise<void> {
  agent.shipped += rate * 60;
  await checkIn(state.pool, agent.id, { at, hash, state: applyState, shipped: { app_logs: agent.shipped }, startedAt: started, ...(failure ? { applyHash: failure.hash, reason: failure.reason } : {}) });
}

async function startStaged(policy: string, body: Record<string, unknown> = {}): Promise<number> {
  const response = await app.inject({
    method: 'POST',
    url: `/api/v1/policies/${policy}/rollouts`,
    headers,
    payload: { revision: 2, strategy: { kind: 'staged', canary: { agents: [`${policy}-a`] }, waves: [{ percent: 100 }], soakSeconds: 60, gate: { applyTimeoutSeconds: 30 }, ...body } },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ id: number }>().id;
}

async function rollout(id: number): Promise<{ state: string; wave: number; phase: string; reason: string | null; agents: Array<{ agentId: string; wave: number }> }> {
  return (await app.inject({ method: 'GET', url: `/api/v1/rollouts/${id}`, headers })).json();
}

/** Whether one engine tick stepped this rollout (other tests' rollouts share the schema). */
const stepped = async (id: number): Promise<boolean> => (await services.engine.tick()).includes(id);

const desired = async (agent: Sim): Promise<number | undefined> => (await desiredOf(state.pool, agent.id))?.number;

async function advance(seconds: number, healthy: Array<[Sim, string, number]>): Promise<void> {
  t += seconds * 1000;
  for (const [agent, hash, rate] of healthy) await report(agent, hash, 'applied', rate);
}

beforeAll(async () => {
  state = await freshState();
  const admin = await new ApiKeyStore(state.pool).create('admin', 'rollout-test');
  headers.authorization = `Bearer ${admin.key}`;
  await registerDataset(state.pool, 'app_logs');
  services = createPolicyServices(state.pool, { now });
  server = await testServer(state.pool, { policies: services });
  app = server.app;
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

describe('staged rollout', () => {
  it('canary, then the next wave, each after its soak on healthy data; completes with the revision current', async () => {
    const { policy, agents, hash2 } = await fleetOf3();
    const [a, b, c] = agents as [Sim, Sim, Sim];
    const id = await startStaged(policy);
    expect(await desired(a)).toBe(2);
    expect([await desired(b), await desired(c)]).toEqual([1, 1]);
    expect(await stepped(id)).toBe(false);

    await advance(5, [[a, hash2, 10]]);
    expect(await stepped(id)).toBe(true);
    expect((await rollout(id)).phase).toBe('soaking');
    await advance(30, [[a, hash2, 10]]);
    expect(await stepped(id)).toBe(false);
    expect([await desired(b), await desired(c)]).toEqual([1, 1]);

    await advance(31, [[a, hash2, 10]]);
    expect(await stepped(id)).toBe(true);
    expect(await rollout(id)).toMatchObject({ state: 'running', wave: 1, phase: 'applying' });
    expect([await desired(b), await desired(c)]).toEqual([2, 2]);

    await advance(5, [[a, hash2, 10], [b, hash2, 9], [c, hash2, 11]]);
    await services.engine.tick();
    await advance(61, [[a, hash2, 10], [b, hash2, 9], [c, hash2, 11]]);
    expect(await stepped(id)).toBe(true);
    expect((await rollout(id)).state).toBe('completed');
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}`, headers })).json()).toMatchObject({ currentRevision: 2 });
    const audit = await state.pool.query<{ action: string; actor_kind: string }>(
      "SELECT action, actor_kind FROM audit_log WHERE target_kind = 'rollout' AND target_id = $1 ORDER BY id",
      [String(id)],
    );
    expect(audit.rows.map((r) => `${r.actor_kind}:${r.action}`)).toEqual(['apiKey:rollout.start', 'system:rollout.advance', 'system:rollout.complete']);
  });

  it('a canary that reports the revision failed is rolled back automatically; later waves never receive it', async () => {
    const { policy, agents, hash1, hash2 } = await fleetOf3();
    const [a, b, c] = agents as [Sim, Sim, Sim];
    const id = await startStaged(policy);
    t += 3000;
    await report(a, hash1, 'rolled-back', 10, t, { hash: hash2, reason: 'sources.app: failed to start: cannot open' });
    expect(await stepped(id)).toBe(true);
    const failed = await rollout(id);
    expect(failed.state).toBe('rolling-back');
    expect(failed.reason).toMatch(/wave 0 failed: agent .*-a reported rolled-back \(sources.app: failed to start/);
    expect([await desired(a), await desired(b), await desired(c)]).toEqual([1, 1, 1]);
    // The agent runs revision 1 again: the rollback is over.
    await advance(2, [[a, hash1, 10]]);
    expect(await stepped(id)).toBe(true);
    expect((await rollout(id)).state).toBe('rolled-back');
    const touched = await state.pool.query("SELECT 1 FROM audit_log WHERE action = 'rollout.rollback' AND actor_kind = 'system' AND target_id = $1", [String(id)]);
    expect(touched.rowCount).toBe(1);
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}`, headers })).json()).toMatchObject({ currentRevision: 1 });
  });

  it('a failure the canary still reports about another revision does not hold or fail the gate', async () => {
    const { policy, agents, hash1, hash2 } = await fleetOf3();
    const [a] = agents as [Sim, Sim, Sim];
    // An earlier revision failed on the canary before this rollout; it keeps saying so until it applies ours.
    const earlier = { hash: 'f'.repeat(64), reason: 'sources.app: failed to start: cannot open' };
    await report(a, hash1, 'rolled-back', 10, t, earlier);
    const id = await startStaged(policy);
    await advance(2, []);
    await report(a, hash1, 'rolled-back', 10, t, earlier);
    expect(await stepped(id)).toBe(false);
    await advance(3, [[a, hash2, 10]]);
    expect(await stepped(id)).toBe(true);
    expect(await rollout(id)).toMatchObject({ state: 'running', phase: 'soaking' });
  });

  it('a failure of the target fails the gate at once, even with the reason of an earlier failure', async () => {
    const { policy, agents, hash1, hash2 } = await fleetOf3();
    const [a, b, c] = agents as [Sim, Sim, Sim];
    const reason = 'sources.app: failed to start: cannot open';
    await report(a, hash1, 'rolled-back', 10, t, { hash: 'f'.repeat(64), reason });
    const id = await startStaged(policy);
    t += 2000;
    await report(a, hash1, 'rolled-back', 10, t, { hash: hash2, reason });
    expect(await stepped(id)).toBe(true);
    const failed = await rollout(id);
    expect(failed.state).toBe('rolling-back');
    expect(failed.reason).toContain(`reported rolled-back (${reason}) for the new revision`);
    expect([await desired(a), await desired(b), await desired(c)]).toEqual([1, 1, 1]);
  });

  it('a revision that applies but stops the canary shipping fails the data-flow gate and is rolled back', async () => {
    const { policy, agents, hash2 } = await fleetOf3();
    const [a, b] = agents as [Sim, Sim, Sim];
    const id = await startStaged(policy);
    await advance(5, [[a, hash2, 0]]);
    await services.engine.tick();
    await advance(61, [[a, hash2, 0]]);
    expect(await stepped(id)).toBe(true);
    const failed = await rollout(id);
    expect(failed.state).toBe('rolling-back');
    expect(failed.reason).toMatch(/ships app_logs at 0 records\/s, below 0.5 × its 10 records\/s before the rollout/);
    expect([await desired(a), await desired(b)]).toEqual([1, 1]);
  });

  it('an agent that does not apply within applyTimeoutSeconds fails the gate', async () => {
    const { policy, agents, hash1 } = await fleetOf3();
    const id = await startStaged(policy);
    await advance(31, [[agents[0] as Sim, hash1, 10]]);
    expect(await stepped(id)).toBe(true);
    expect((await rollout(id)).reason).toMatch(/did not report applied within 30 s/);
  });

  it('pause holds the rollout, resume restarts the clock, abort returns opened agents; one active rollout per policy', async () => {
    const { policy, agents, hash2 } = await fleetOf3();
    const [a, b] = agents as [Sim, Sim, Sim];
    const id = await startStaged(policy);
    const second = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollouts`, headers, payload: { revision: 2, strategy: { kind: 'all' } } });
    expect(second.statusCode).toBe(409);
    expect((await app.inject({ method: 'POST', url: `/api/v1/rollouts/${id}/pause`, headers })).json()).toMatchObject({ state: 'paused' });
    t += 120_000;
    expect(await stepped(id)).toBe(false);
    expect((await app.inject({ method: 'POST', url: `/api/v1/rollouts/${id}/resume`, headers })).json()).toMatchObject({ state: 'running', phase: 'applying' });
    // The apply timeout counts from the resume, not from the start.
    expect(await stepped(id)).toBe(false);
    await advance(5, [[a, hash2, 10]]);
    expect(await stepped(id)).toBe(true);
    const aborted = await app.inject({ method: 'POST', url: `/api/v1/rollouts/${id}/abort`, headers });
    expect(aborted.json()).toMatchObject({ state: 'aborted' });
    expect([await desired(a), await desired(b)]).toEqual([1, 1]);
    const again = await app.inject({ method: 'POST', url: `/api/v1/rollouts/${id}/pause`, headers });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { name: 'ConflictError', message: `rollout ${id}: a aborted rollout cannot pause` } });
  });

  it('an engine started afresh mid-rollout carries on; two engines on one schema never double-step', async () => {
    const { policy, agents, hash2 } = await fleetOf3();
    const [a, b, c] = agents as [Sim, Sim, Sim];
    const id = await startStaged(policy);
    await advance(5, [[a, hash2, 10]]);
    await services.engine.tick();
    await advance(61, [[a, hash2, 10]]);
    const first = createPolicyServices(state.pool, { now });
    const second = createPolicyServices(state.pool, { now });
    const ticks = await Promise.all([first.engine.tick(), second.engine.tick(), first.engine.tick(), second.engine.tick()]);
    expect(ticks.flat().filter((stepped) => stepped === id)).toHaveLength(1);
    expect(await rollout(id)).toMatchObject({ state: 'running', wave: 1 });
    const advanced = await state.pool.query("SELECT 1 FROM audit_log WHERE action = 'rollout.advance' AND target_id = $1", [String(id)]);
    expect(advanced.rowCount).toBe(1);
    expect([await desired(b), await desired(c)]).toEqual([2, 2]);
  });

  it('kind all moves every agent at once; a completed rollout and a policy can be rolled back', async () => {
    const { policy, agents } = await fleetOf3();
    const response = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollouts`, headers, payload: { revision: 2, strategy: { kind: 'all' } } });
    expect(response.json()).toMatchObject({ state: 'completed', toRevision: 2, fromRevision: 1 });
    for (const agent of agents) expect(await desired(agent)).toBe(2);
    // Undoing a completed rollout makes the previous revision current again.
    const undo = await app.inject({ method: 'POST', url: `/api/v1/rollouts/${response.json<{ id: number }>().id}/rollback`, headers });
    expect(undo.json()).toMatchObject({ state: 'rolling-back' });
    for (const agent of agents) expect(await desired(agent)).toBe(1);
    expect(await stepped(undo.json<{ id: number }>().id)).toBe(true);
    expect((await rollout(undo.json<{ id: number }>().id)).state).toBe('rolled-back');

    const again = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollouts`, headers, payload: { revision: 2, strategy: { kind: 'all' } } });
    const back = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollback`, headers, payload: { revision: 1 } });
    expect(back.json()).toEqual({ policy, currentRevision: 1 });
    for (const agent of agents) expect(await desired(agent)).toBe(1);
    const stale = await app.inject({ method: 'POST', url: `/api/v1/rollouts/${again.json<{ id: number }>().id}/rollback`, headers });
    expect(stale.statusCode).toBe(409);
    expect(stale.json<{ error: { message: string } }>().error.message).toContain('is no longer the current one');
    const forward = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollback`, headers, payload: { revision: 2 } });
    expect(forward.statusCode).toBe(400);
  });
});
