/**
 * Agent identity and check-in against real PostgreSQL, on two control-plane instances sharing one state
 * schema (each with its own fleet services and LISTEN connection, as two `serve` processes would have):
 * a cloned identity is refused and a restarted agent accepted; a revoke cuts the agent off at its next
 * request on both instances; a long-poll held on one instance returns as soon as the desired revision is
 * changed through the other; an agent can only ever be itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckinResponse } from '@sluice/shared/fleet/checkin';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { createFleet, type Fleet } from '../src/fleet/fleet-services.ts';
import { bearer, checkin, checkinBody, createToken, enrolledAgent, nonce, okCheckin, type TestAgent } from './support/fleet-requests.ts';
import { pipeline, revision, setDesired } from './support/fleet-state.ts';
import { freshState } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
const fleets: Fleet[] = [];
let one: TestServer;
let two: TestServer;
let token = '';
const ADMIN = 'bootstrap-admin-key-for-checkin-tests-012345';

async function instance(apiKeys: ApiKeyStore): Promise<TestServer> {
  const fleet = createFleet(state.pool, { checkin: { maxWaitSeconds: 20 } });
  await fleet.start();
  fleets.push(fleet);
  return testServer(state.pool, { apiKeys, fleet });
}

beforeAll(async () => {
  state = await freshState();
  const apiKeys = new ApiKeyStore(state.pool);
  await apiKeys.bootstrapAdmin(ADMIN);
  one = await instance(apiKeys);
  two = await instance(apiKeys);
  token = (await createToken(one.app, ADMIN, { maxUses: 100 })).token;
});

afterAll(async () => {
  await one?.close();
  await two?.close();
  for (const fleet of fleets) await fleet.close();
  await state?.drop();
});

const errorOf = (response: { json: () => unknown }) => (response.json() as { error: { name: string; message: string } }).error;

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(20);
  }
}

describe('identity and clone safety', () => {
  it('refuses a second instance of one identity, accepts the agent restarted (counter+1), then refuses its old process', async () => {
    const agent = await enrolledAgent(one.app, token, 'cloned');
    expect((await checkin(one.app, agent)).statusCode).toBe(200);
    expect((await checkin(two.app, agent)).statusCode).toBe(200);

    // A flashed image: same identity file, same counter, its own nonce.
    const clone = { ...agent, session: { counter: agent.session.counter, nonce: nonce() } };
    for (const app of [one.app, two.app]) {
      const refused = await checkin(app, clone);
      expect(refused.statusCode).toBe(403);
      expect(errorOf(refused)).toEqual({
        name: 'ForbiddenError',
        message: `agent ${agent.agentId}: this identity is in use by another instance (cloned image or restored backup); re-enroll this device with \`sluice-agent enroll\``,
      });
    }

    const restarted: TestAgent = { ...agent, session: { counter: agent.session.counter + 1, nonce: nonce() } };
    expect((await checkin(two.app, restarted)).statusCode).toBe(200);
    // The previous process, on either instance (one learns of the new session by the fleet event).
    expect((await checkin(two.app, agent)).statusCode).toBe(403);
    const old = await eventually(() => checkin(one.app, agent), (r) => r.statusCode === 403);
    expect(old.statusCode).toBe(403);
    expect((await checkin(one.app, restarted)).statusCode).toBe(200);
    const stored = await state.pool.query<{ instance_counter: string }>('SELECT instance_counter FROM agents WHERE id = $1', [agent.agentId]);
    expect(stored.rows[0]?.instance_counter).toBe(String(restarted.session.counter));
  });

  it('lets exactly one of two clones that start together (both counter+1) keep the identity', async () => {
    const agent = await enrolledAgent(one.app, token, 'racing');
    const a = { ...agent, session: { counter: 5, nonce: nonce() } };
    const b = { ...agent, session: { counter: 5, nonce: nonce() } };
    const [ra, rb] = await Promise.all([checkin(one.app, a), checkin(two.app, b)]);
    expect([ra.statusCode, rb.statusCode].sort()).toEqual([200, 403]);
  });

  it('refuses a missing or malformed instance header and an unknown credential with 401', async () => {
    const agent = await enrolledAgent(one.app, token);
    const bare = await one.app.inject({ method: 'POST', url: '/api/v1/agent/checkin', headers: bearer(agent.credential), payload: checkinBody() });
    expect(bare.statusCode).toBe(401);
    expect(errorOf(bare).message).toMatch(/x-sluice-instance/);
    const malformed = await one.app.inject({ method: 'POST', url: '/api/v1/agent/checkin', headers: { ...bearer(agent.credential), 'x-sluice-instance': 'two.x' }, payload: checkinBody() });
    expect(malformed.statusCode).toBe(401);
    const unknown = await checkin(one.app, { credential: 'sla_unknown', session: agent.session });
    expect(errorOf(unknown)).toEqual({ name: 'UnauthorizedError', message: 'unknown agent credential' });
  });
});

describe('revocation', () => {
  it('cuts the agent off at its next request on every instance, though both had it cached', async () => {
    const agent = await enrolledAgent(one.app, token, 'revoked');
    expect((await checkin(one.app, agent)).statusCode).toBe(200);
    expect((await checkin(two.app, agent)).statusCode).toBe(200);
    const revoked = await one.app.inject({ method: 'POST', url: `/api/v1/agents/${agent.agentId}/revoke`, headers: bearer(ADMIN) });
    expect(revoked.json()).toMatchObject({ status: 'revoked' });
    expect(errorOf(await checkin(one.app, agent))).toEqual({ name: 'UnauthorizedError', message: `agent ${agent.agentId} was revoked` });
    const onTwo = await eventually(() => checkin(two.app, agent), (r) => r.statusCode === 401, 2000);
    expect(errorOf(onTwo)).toEqual({ name: 'UnauthorizedError', message: `agent ${agent.agentId} was revoked` });
    // A restart does not bring it back.
    expect((await checkin(two.app, { ...agent, session: { counter: 99, nonce: nonce() } })).statusCode).toBe(401);
    const audit = await state.pool.query<{ actor_id: string }>(`SELECT actor_id FROM audit_log WHERE action = 'agent.revoke' AND target_id = $1`, [agent.agentId]);
    expect(audit.rows).toEqual([{ actor_id: 'bootstrap-admin' }]);
  });
});

describe('check-in', () => {
  it('sends the desired config only when the agent runs another hash, and GET /agent/config answers the full pipeline', async () => {
    const agent = await enrolledAgent(one.app, token, 'desired');
    const config = pipeline('/var/log/app/a.log');
    const rev = await revision(state.pool, 'desired-policy', 1, config);
    await setDesired(state.pool, agent.agentId, rev.id);
    const first = await eventually(() => okCheckin(one.app, agent), (r) => r.desired !== null);
    expect(first).toEqual({
      agentId: agent.agentId,
      desired: { revision: { policy: 'desired-policy', number: 1, id: rev.id }, hash: rev.hash },
      config,
      nextCheckinSeconds: 10,
    });
    const applied = await okCheckin(one.app, agent, checkinBody({ config: { hash: rev.hash, revision: { policy: 'desired-policy', number: 1 } } }));
    expect(applied).not.toHaveProperty('config');
    expect(applied.desired?.hash).toBe(rev.hash);
    const own = await one.app.inject({ method: 'GET', url: '/api/v1/agent/config', headers: { ...bearer(agent.credential), 'x-sluice-instance': `${agent.session.counter}.${agent.session.nonce}` } });
    expect(own.json()).toEqual({ desired: first.desired, config });
  });

  it('holds a long-poll until the desired revision changes through the other instance, then answers at once', async () => {
    const agent = await enrolledAgent(one.app, token, 'long-poll');
    const rev1 = await revision(state.pool, 'poll-policy', 1, pipeline('/var/log/app/one.log'));
    const rev2 = await revision(state.pool, 'poll-policy', 2, pipeline('/var/log/app/two.log'));
    await setDesired(state.pool, agent.agentId, rev1.id);
    await eventually(() => okCheckin(two.app, agent), (r) => r.desired?.revision.id === rev1.id);
    const running = checkinBody({ config: { hash: rev1.hash, revision: { policy: 'poll-policy', number: 1 } }, waitSeconds: 15 });

    const started = Date.now();
    const held = okCheckin(two.app, agent, running);
    await sleep(700);
    // Another agent's change does not end this poll.
    const other = await enrolledAgent(one.app, token, 'bystander');
    await setDesired(state.pool, other.agentId, rev2.id);
    await sleep(200);
    // Written outside instance two (as a rollout on another process would): the transaction's NOTIFY wakes it.
    await setDesired(state.pool, agent.agentId, rev2.id);
    const answer: CheckinResponse = await held;
    const heldMs = Date.now() - started;
    expect(heldMs).toBeGreaterThanOrEqual(850);
    expect(heldMs).toBeLessThan(5000);
    expect(answer.desired?.revision).toEqual({ policy: 'poll-policy', number: 2, id: rev2.id });
    expect(answer.config).toEqual(pipeline('/var/log/app/two.log'));
  });

  it('ends a held long-poll when the agent is revoked; its next request is refused', async () => {
    const agent = await enrolledAgent(one.app, token, 'revoked-while-polling');
    await okCheckin(two.app, agent);
    const started = Date.now();
    const held = checkin(two.app, agent, checkinBody({ waitSeconds: 15 }));
    await sleep(300);
    await one.app.inject({ method: 'POST', url: `/api/v1/agents/${agent.agentId}/revoke`, headers: bearer(ADMIN) });
    await held;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(errorOf(await checkin(two.app, agent))).toEqual({ name: 'UnauthorizedError', message: `agent ${agent.agentId} was revoked` });
  });

  it('answers held long-polls at once when the server closes, instead of waiting them out', async () => {
    const three = await instance(new ApiKeyStore(state.pool));
    const agent = await enrolledAgent(three.app, token, 'closing');
    const started = Date.now();
    const held = checkin(three.app, agent, checkinBody({ waitSeconds: 15 }));
    await sleep(300);
    await three.close();
    expect((await held).statusCode).toBe(200);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('answers a long-poll with nothing new when its wait ends, hinting to poll again at once', async () => {
    const agent = await enrolledAgent(one.app, token, 'idle-poll');
    const started = Date.now();
    const answer = await okCheckin(one.app, agent, checkinBody({ waitSeconds: 1 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(answer).toEqual({ agentId: agent.agentId, desired: null, nextCheckinSeconds: 9 });
  });

  it('lets an agent be only itself: no body field names an agent, and another agent is not readable', async () => {
    const a = await enrolledAgent(one.app, token, 'agent-a');
    const b = await enrolledAgent(one.app, token, 'agent-b');
    const revB = await revision(state.pool, 'b-only', 1, pipeline('/var/log/app/b.log'));
    await setDesired(state.pool, b.agentId, revB.id);
    const asB = await checkin(one.app, a, { ...checkinBody(), agentId: b.agentId } as never);
    expect(asB.statusCode).toBe(400);
    const labelled = await checkin(one.app, a, { ...checkinBody(), labels: { site: 'x' } } as never);
    expect(labelled.statusCode).toBe(400);
    // A's credential with B's session header is A presenting a session it never had: refused as a clone of A.
    const mixed = await checkin(one.app, { credential: a.credential, session: b.session });
    expect([mixed.statusCode, errorOf(mixed).message.startsWith(`agent ${a.agentId}:`)]).toEqual([403, true]);
    const mine = await okCheckin(one.app, a);
    expect(mine.agentId).toBe(a.agentId);
    expect(mine.desired).toBeNull();
    const config = await one.app.inject({ method: 'GET', url: '/api/v1/agent/config', headers: { ...bearer(a.credential), 'x-sluice-instance': `${a.session.counter}.${a.session.nonce}` } });
    expect(config.json()).toEqual({ desired: null, config: null });
    // A human credential is refused on the agent routes.
    expect((await one.app.inject({ method: 'POST', url: '/api/v1/agent/checkin', headers: bearer(ADMIN), payload: checkinBody() })).statusCode).toBe(403);
  });

  it('refuses a body over the limits with 400 naming the path', async () => {
    const agent = await enrolledAgent(one.app, token);
    const body = checkinBody();
    const tooMany = { ...body, ledger: Array.from({ length: 5001 }, () => ({ dataset: 'sensors', minute: '2026-01-01T00:00:00.000Z', shipped: 1 })) };
    const refused = await checkin(one.app, agent, tooMany);
    expect(refused.statusCode).toBe(400);
    expect(errorOf(refused).message).toMatch(/ledger/);
    const notAMinute = await checkin(one.app, agent, { ...body, ledger: [{ dataset: 'sensors', minute: '2026-01-01T00:00:30.000Z', shipped: 1 }] });
    expect(notAMinute.statusCode).toBe(400);
    expect(errorOf(notAMinute).message).toMatch(/minute/);
  });
});
