/**
 * The check-in's cost and its writes, against real PostgreSQL: an unchanged check-in makes no query at all
 * (credential, session and desired revision are served from memory); reports of many agents reach
 * PostgreSQL in one statement; history stays bounded; ledger counts only ever grow (GREATEST); a check-in
 * that changes the apply state, or carries ledger rows without a change number, is on disk when it is
 * answered; ledger rows with one are acknowledged (`ledgerAckedThrough`) only once they are committed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { createPool } from '../src/db/pool.ts';
import { CheckinWriter } from '../src/fleet/checkin-writer.ts';
import { createFleet, type Fleet } from '../src/fleet/fleet-services.ts';
import { checkinBody, createToken, enrolledAgent, okCheckin, type TestAgent } from './support/fleet-requests.ts';
import { countQueries, pipeline, revision, setDesired } from './support/fleet-state.ts';
import { freshState, stackEnv } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';
import type pg from 'pg';

let state: Awaited<ReturnType<typeof freshState>>;
let counted: pg.Pool;
let queries: ReturnType<typeof countQueries>;
let fleet: Fleet;
let server: TestServer;
let token = '';
const ADMIN = 'bootstrap-admin-key-for-writer-tests-0123456';

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  // The fleet's own pool, counted; the flush timer is out of the way (tests flush when they mean to).
  counted = createPool(stackEnv.pgUrl, state.schema);
  queries = countQueries(counted);
  fleet = createFleet(counted, { checkin: { flushMs: 3_600_000, historySeconds: 3600, historyRows: 3 } });
  await fleet.start();
  server = await testServer(state.pool, { apiKeys, fleet });
  token = (await createToken(server.app, ADMIN, { maxUses: 100 })).token;
});

afterAll(async () => {
  await server?.close();
  await fleet?.close();
  await counted?.end();
  await state?.drop();
});

const running = (hash: string) => checkinBody({ config: { hash, revision: { policy: 'writer-policy', number: 1 } }, apply: { state: 'applied', hash, at: new Date().toISOString() } });

describe('check-in writes', () => {
  let agents: TestAgent[] = [];
  let hash = '';

  it('answers an unchanged check-in from memory: zero PostgreSQL queries', async () => {
    agents = await Promise.all(Array.from({ length: 5 }, (_, i) => enrolledAgent(server.app, token, `batch-${i}`)));
    const rev = await revision(state.pool, 'writer-policy', 1, pipeline('/var/log/app/w.log'));
    hash = rev.hash;
    for (const agent of agents) await setDesired(state.pool, agent.agentId, rev.id);
    // First check-ins load the caches and write the agents' first state.
    for (const agent of agents) expect((await okCheckin(server.app, agent, running(hash))).desired?.hash).toBe(hash);
    // The enroll and desired-changed events of the setup arrive a moment later and drop those caches once.
    await sleep(300);
    for (const agent of agents) await okCheckin(server.app, agent, running(hash));
    queries.reset();
    const before = fleet.writer.flushes;
    for (let round = 0; round < 20; round++) for (const agent of agents) expect(await okCheckin(server.app, agent, running(hash))).not.toHaveProperty('config');
    expect(queries.count).toBe(0);
    expect(fleet.writer.flushes).toBe(before);
  });

  it('writes the reports of all agents in one statement', async () => {
    const seen = await state.pool.query<{ last_seen_at: Date }>('SELECT last_seen_at FROM agents WHERE id = ANY($1)', [agents.map((a) => a.agentId)]);
    const firstSeen = Math.max(...seen.rows.map((r) => r.last_seen_at.getTime()));
    queries.reset();
    await fleet.writer.flushNow();
    expect(queries.count).toBe(1);
    const after = await state.pool.query<{ last_seen_at: Date; reported_hash: string; apply_state: string; allowed_roots: string[]; health: { sources: unknown[] } }>(
      'SELECT last_seen_at, reported_hash, apply_state, allowed_roots, health FROM agents WHERE id = ANY($1)',
      [agents.map((a) => a.agentId)],
    );
    expect(after.rows).toHaveLength(5);
    for (const row of after.rows) {
      expect(row.last_seen_at.getTime()).toBeGreaterThan(firstSeen);
      expect(row).toMatchObject({ reported_hash: hash, apply_state: 'applied', allowed_roots: ['/var/log/app'] });
      expect(row.health.sources).toHaveLength(1);
    }
  });

  it('writes an apply-state change before answering, and keeps the history bounded', async () => {
    const [agent] = agents;
    for (const [i, state_] of (['applying', 'failed', 'rolled-back', 'applying', 'applied'] as const).entries()) {
      await okCheckin(server.app, agent!, checkinBody({ config: { hash, revision: null }, apply: { state: state_, hash, reason: `step ${i}`, at: new Date().toISOString() } }));
      const row = await state.pool.query<{ apply_state: string; apply_reason: string }>('SELECT apply_state, apply_reason FROM agents WHERE id = $1', [agent!.agentId]);
      expect(row.rows[0]).toEqual({ apply_state: state_, apply_reason: `step ${i}` });
    }
    const history = await state.pool.query<{ apply_state: string }>('SELECT apply_state FROM agent_checkins WHERE agent_id = $1 ORDER BY at DESC, id DESC', [agent!.agentId]);
    expect(history.rows.map((r) => r.apply_state)).toEqual(['applied', 'applying', 'rolled-back']);
    const detail = await server.app.inject({ method: 'GET', url: `/api/v1/agents/${agent!.agentId}`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(detail.json<{ checkins: Array<{ applyState: string }> }>().checkins.map((c) => c.applyState)).toEqual(['applied', 'applying', 'rolled-back']);
  });

  it('stores ledger rows of an agent without change numbers before answering and never lowers a count (GREATEST)', async () => {
    const [, agent] = agents;
    const minute = '2026-12-01T10:15:00.000Z';
    const report = (shipped: number, other = 0) =>
      okCheckin(
        server.app,
        agent!,
        checkinBody({
          config: { hash, revision: null },
          ledger: [{ dataset: 'sensors', minute, shipped }, ...(other > 0 ? [{ dataset: 'sensors', minute: '2026-12-01T10:16:00Z', shipped: other }] : [])],
        }),
      );
    const ledger = async () =>
      (await state.pool.query<{ minute: Date; shipped: string }>('SELECT minute, shipped FROM ledger_edge WHERE agent_id = $1 ORDER BY minute', [agent!.agentId])).rows.map((r) => [
        r.minute.toISOString(),
        Number(r.shipped),
      ]);
    await report(500);
    expect(await ledger()).toEqual([[minute, 500]]);
    await report(300);
    expect(await ledger()).toEqual([[minute, 500]]);
    await report(800, 20);
    expect(await ledger()).toEqual([
      [minute, 800],
      ['2026-12-01T10:16:00.000Z', 20],
    ]);
  });

  it('answers ledger rows with a change number at once, and acknowledges them only after they are committed', async () => {
    const [, , agent] = agents;
    const minute = '2026-12-01T11:00:00.000Z';
    // Its running state is unchanged from the first test's check-ins: nothing else makes the answer wait for a write.
    const body = (shipped: number, ledgerThrough: number) => ({ ...running(hash), ledger: [{ dataset: 'sensors', minute, shipped }], ledgerThrough });
    const stored = async () => (await state.pool.query<{ shipped: string }>('SELECT shipped FROM ledger_edge WHERE agent_id = $1', [agent!.agentId])).rows.map((r) => Number(r.shipped));
    const before = fleet.writer.flushes;
    // The flush timer is an hour away: the answer did not wait for a write, so it acknowledges nothing yet.
    expect((await okCheckin(server.app, agent!, body(40, 7))).ledgerAckedThrough).toBe(0);
    expect(fleet.writer.flushes).toBe(before);
    expect(await stored()).toEqual([]);
    await fleet.writer.flushNow();
    expect(await stored()).toEqual([40]);
    // The agent resent from its last acknowledged change (0) with more since; the answer names the committed 7.
    expect((await okCheckin(server.app, agent!, body(55, 9))).ledgerAckedThrough).toBe(7);
    await fleet.writer.flushNow();
    expect((await okCheckin(server.app, agent!, { ...running(hash), ledgerThrough: 9 })).ledgerAckedThrough).toBe(9);
    expect(await stored()).toEqual([55]);
    // A check-in without ledgerThrough gets no acknowledgement field (it was written before the answer).
    expect(await okCheckin(server.app, agent!, running(hash))).not.toHaveProperty('ledgerAckedThrough');
  });

  it('never acknowledges a check-in whose ledger rows overflowed the pending bound; the resend that fits is', async () => {
    const [, , , agent] = agents;
    const writer = new CheckinWriter(counted, { maxPending: 1 });
    const report = { agentId: agent!.agentId, at: new Date(), version: '0.1.0', reportedHash: hash, applyState: 'applied', applyHash: hash, applyReason: null, health: {}, allowedRoots: [] };
    const row = (minute: string, shipped: number) => ({ agentId: agent!.agentId, dataset: 'sensors', minute, shipped });
    writer.add(report, undefined, [row('2026-12-01T12:00:00.000Z', 3), row('2026-12-01T12:01:00.000Z', 4)], 5);
    await writer.flushNow();
    expect(writer.ackedThrough(agent!.agentId)).toBeUndefined();
    writer.add({ ...report, at: new Date() }, undefined, [row('2026-12-01T12:01:00.000Z', 4)], 6);
    await writer.flushNow();
    expect(writer.ackedThrough(agent!.agentId)).toBe(6);
    const stored = await state.pool.query<{ minute: Date }>(`SELECT minute FROM ledger_edge WHERE agent_id = $1 AND minute >= '2026-12-01T12:00:00Z' ORDER BY minute`, [agent!.agentId]);
    expect(stored.rows.map((r) => r.minute.toISOString())).toEqual(['2026-12-01T12:00:00.000Z', '2026-12-01T12:01:00.000Z']);
  });

  it('lists agents by label, connectivity and drift', async () => {
    const admin = { authorization: `Bearer ${ADMIN}` };
    const [a, b] = agents;
    await server.app.inject({ method: 'PATCH', url: `/api/v1/agents/${a!.agentId}`, headers: admin, payload: { labels: { site: 'berlin', tier: 'edge' } } });
    await server.app.inject({ method: 'PATCH', url: `/api/v1/agents/${b!.agentId}`, headers: admin, payload: { labels: { site: 'berlin' } } });
    const list = async (query: string) =>
      (await server.app.inject({ method: 'GET', url: `/api/v1/agents?${query}`, headers: admin })).json<{ items: Array<{ id: string }> }>().items.map((i) => i.id).sort();
    expect(await list('label=site:berlin')).toEqual([a!.agentId, b!.agentId].sort());
    expect(await list('label=site:berlin&label=tier:edge')).toEqual([a!.agentId]);
    await fleet.writer.flushNow();
    expect(await list('status=online')).toEqual(agents.map((x) => x.agentId).sort());
    expect(await list('status=offline')).toEqual([]);
    const audit = await state.pool.query<{ before: unknown; after: unknown }>(`SELECT before, after FROM audit_log WHERE action = 'agent.labels' AND target_id = $1`, [a!.agentId]);
    expect(audit.rows).toEqual([{ before: { labels: {} }, after: { labels: { site: 'berlin', tier: 'edge' } } }]);
    const viewer = (await new ApiKeyStore(state.pool).create('viewer', 'v')).key;
    const patchAsViewer = await server.app.inject({ method: 'PATCH', url: `/api/v1/agents/${a!.agentId}`, headers: { authorization: `Bearer ${viewer}` }, payload: { labels: {} } });
    expect(patchAsViewer.statusCode).toBe(403);
    // Drift: the agent reports another hash than its desired revision's.
    const [, , c, d] = agents;
    await okCheckin(server.app, c!, checkinBody({ config: { hash: 'f'.repeat(64), revision: null } }));
    const drifting = await list('drift=true');
    expect(drifting).toContain(c!.agentId);
    expect(drifting).not.toContain(d!.agentId);
    expect(await list('drift=false')).toContain(d!.agentId);
  });
});
