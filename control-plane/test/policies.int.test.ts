import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ApiKeyStore } from '../src/auth/api-keys.ts';
import { reassignAgent } from '../src/fleet/assignment.ts';
import { withTransaction } from '../src/db/transaction.ts';
import { desiredOf, insertAgent, registerDataset } from './support/fleet-rows.ts';
import { freshState, suffix } from './support/state.ts';
import { testServer, type TestServer } from './support/test-server.ts';

let state: Awaited<ReturnType<typeof freshState>>;
let server: TestServer;
let app: FastifyInstance;
const operator = { authorization: '' };
const viewer = { authorization: '' };

const file = (include: string, dataset = 'app_logs') => ({ type: 'file', id: 'app', dataset, include: [include] });

async function createPolicy(body: Record<string, unknown>): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/api/v1/policies', headers: operator, payload: body });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ name: string }>().name;
}

const publish = (policy: string, config: unknown, headers = operator) => app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/revisions`, headers, payload: { config } });

beforeAll(async () => {
  state = await freshState();
  const keys = new ApiKeyStore(state.pool);
  operator.authorization = `Bearer ${(await keys.create('operator', 'policy-test')).key}`;
  viewer.authorization = `Bearer ${(await keys.create('viewer', 'policy-test-viewer')).key}`;
  await registerDataset(state.pool, 'app_logs');
  server = await testServer(state.pool);
  app = server.app;
});

afterAll(async () => {
  await server?.close();
  await state?.drop();
});

describe('policies', () => {
  it('refuses a revision with every problem named by path: schema, local settings, datasets, folders', async () => {
    const group = suffix();
    await insertAgent(state.pool, `gw-${group}`, { group }, ['/var/log/app']);
    const policy = await createPolicy({ name: `v-${group}`, selector: { labels: { group } } });
    const response = await publish(policy, {
      kafka: { brokers: ['k:9092'] },
      sources: [file('/var/log/app/*.log', 'no_such'), file('/etc/*.conf'), { type: 'drop', id: 'd', dataset: 'app_logs', path: 'relative/drop' }],
    });
    expect(response.statusCode).toBe(400);
    const body = response.json<{ error: { name: string; message: string; details: Array<{ path: string; reason: string }> } }>();
    expect(body.error.name).toBe('InputError');
    expect(body.error.details.map((p) => p.path)).toEqual(['kafka']);
    expect(body.error.message).toContain("kafka: is a local setting of the agent (its YAML), never part of a policy's pipeline");

    const second = await publish(policy, { sources: [file('/var/log/app/*.log', 'no_such'), { ...file('/etc/*.conf'), id: 'etc' }, { type: 'drop', id: 'd', dataset: 'app_logs', path: 'relative/drop' }] });
    const lines = second.json<{ error: { message: string } }>().error.message.split('\n').slice(1);
    expect(lines).toEqual([
      'sources[0].dataset: dataset no_such is not registered (POST /api/v1/datasets first)',
      `sources[1].include[0]: /etc is outside the allowedRoots of agent gw-${group} (/var/log/app)`,
      'sources[2].path: must be an absolute path in a policy (relative/drop)',
    ]);
    const duplicate = await publish(policy, { sources: [file('/var/log/app/a.log'), file('/var/log/app/b.log')] });
    expect(duplicate.json<{ error: { details: unknown } }>().error.details).toEqual([{ path: 'sources[1].id', reason: 'duplicates sources[0].id "app"' }]);
    // The dry run answers the same problems without publishing.
    const dry = await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/validate`, headers: operator, payload: { config: { sources: [file('/srv/x/*.log')] } } });
    expect(dry.json()).toMatchObject({ ok: false, problems: [{ path: 'sources[0].include[0]' }] });
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}/revisions`, headers: viewer })).json()).toEqual({ items: [] });
  });

  it('stores the defaulted pipeline with its hash; the first revision becomes current and reaches the selected agents', async () => {
    const group = suffix();
    await insertAgent(state.pool, `a-${group}`, { group, site: 'berlin' });
    await insertAgent(state.pool, `b-${group}`, { group, site: 'paris' });
    const wide = await createPolicy({ name: `wide-${group}`, selector: { labels: { group } } });
    const berlin = await createPolicy({ name: `berlin-${group}`, selector: { labels: { group, site: 'berlin' } }, priority: 10 });
    const r1 = await publish(wide, { sources: [file('/var/log/app/*.log')] });
    expect(r1.statusCode, r1.body).toBe(201);
    const revision = r1.json<{ number: number; hash: string; config: { sources: Array<Record<string, unknown>> } }>();
    expect(revision.number).toBe(1);
    expect(revision.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(revision.config.sources[0]).toMatchObject({ startAt: 'beginning', maxLineBytes: 1024 * 1024 });
    expect(await desiredOf(state.pool, `a-${group}`)).toEqual({ number: 1, hash: revision.hash });
    // A higher-priority policy takes the agents it selects once it has a revision.
    await publish(berlin, { sources: [file('/var/log/app/berlin.log')] });
    const a = await state.pool.query<{ policy: string }>('SELECT r.policy FROM agents JOIN policy_revisions r ON r.id = desired_revision_id WHERE agents.id = $1', [`a-${group}`]);
    expect(a.rows[0]?.policy).toBe(berlin);
    expect((await desiredOf(state.pool, `b-${group}`))?.number).toBe(1);
    // A label change moves the agent (the agents route calls reassignAgent in its transaction).
    await state.pool.query(`UPDATE agents SET labels = labels || '{"site":"paris"}' WHERE id = $1`, [`a-${group}`]);
    await withTransaction(state.pool, (client) => reassignAgent(client, `a-${group}`));
    const moved = await state.pool.query<{ policy: string }>('SELECT r.policy FROM agents JOIN policy_revisions r ON r.id = desired_revision_id WHERE agents.id = $1', [`a-${group}`]);
    expect(moved.rows[0]?.policy).toBe(wide);
  });

  it('diffs any two revisions path by path; revisions are immutable', async () => {
    const policy = await createPolicy({ name: `d-${suffix()}` });
    await publish(policy, { sources: [file('/var/log/app/*.log')] });
    await publish(policy, { sources: [{ ...file('/var/log/app/*.log'), startAt: 'end' }, { type: 'http-push', id: 'push', dataset: 'app_logs', token: '0123456789abcdef' }] });
    const diff = await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}/diff?from=1&to=2`, headers: viewer });
    const changes = diff.json<{ changes: Array<{ op: string; path: string }> }>().changes;
    expect(changes.map((c) => `${c.op} ${c.path}`)).toEqual(['changed sources[id=app].startAt', 'added sources[id=push]']);
    const two = await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}/revisions/2`, headers: viewer });
    expect(two.json<{ number: number }>().number).toBe(2);
    await expect(state.pool.query("UPDATE policy_revisions SET message = 'rewritten' WHERE policy = $1", [policy])).rejects.toThrow(/immutable/);
    await expect(state.pool.query('DELETE FROM policy_revisions WHERE policy = $1', [policy])).rejects.toThrow(/immutable/);
    const audit = await state.pool.query<{ action: string }>("SELECT action FROM audit_log WHERE target_kind = 'policy' AND target_id = $1 ORDER BY id", [policy]);
    expect(audit.rows.map((r) => r.action)).toEqual(['policy.create', 'policy.publish', 'policy.publish']);
  });

  it('a viewer reads policies but cannot change them; no credential is 401', async () => {
    const policy = await createPolicy({ name: `r-${suffix()}` });
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}`, headers: viewer })).statusCode).toBe(200);
    expect((await publish(policy, { sources: [] }, viewer)).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: '/api/v1/policies', headers: viewer, payload: { name: 'x' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'POST', url: `/api/v1/policies/${policy}/rollouts`, headers: viewer, payload: { revision: 1, strategy: { kind: 'all' } } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}` })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/api/v1/policies', headers: operator, payload: { name: policy } })).statusCode).toBe(409);
  });
});

describe('PATCH /policies/:name', () => {
  const patch = (policy: string, payload: Record<string, unknown>, headers = operator) => app.inject({ method: 'PATCH', url: `/api/v1/policies/${policy}`, headers, payload });
  const policyOf = async (agentId: string): Promise<string | undefined> =>
    (await state.pool.query<{ policy: string }>('SELECT r.policy FROM agents JOIN policy_revisions r ON r.id = desired_revision_id WHERE agents.id = $1', [agentId])).rows[0]?.policy;

  it('changes description, selector and priority; agents follow the selector at once; audited before/after', async () => {
    const group = suffix();
    await insertAgent(state.pool, `x-${group}`, { group, site: 'berlin' });
    await insertAgent(state.pool, `y-${group}`, { group, site: 'paris' });
    // Priority above the catch-all policies other tests of this schema leave behind.
    const policy = await createPolicy({ name: `e-${group}`, description: 'first', selector: { labels: { group, site: 'berlin' } }, priority: 100 });
    await publish(policy, { sources: [file('/var/log/app/*.log')] });
    expect(await policyOf(`x-${group}`)).toBe(policy);
    expect(await policyOf(`y-${group}`)).not.toBe(policy);

    const described = await patch(policy, { description: 'berlin gateways' });
    expect(described.json()).toMatchObject({ description: 'berlin gateways', selector: { labels: { group, site: 'berlin' } }, priority: 100, currentRevision: 1 });
    const moved = await patch(policy, { selector: { labels: { group, site: 'paris' } }, priority: 105 });
    expect(moved.statusCode, moved.body).toBe(200);
    expect(moved.json()).toMatchObject({ description: 'berlin gateways', selector: { labels: { group, site: 'paris' } }, priority: 105 });
    expect(await policyOf(`x-${group}`)).not.toBe(policy);
    expect(await policyOf(`y-${group}`)).toBe(policy);
    expect((await app.inject({ method: 'GET', url: `/api/v1/policies/${policy}`, headers: viewer })).json()).toMatchObject({ priority: 105, selector: { labels: { site: 'paris' } } });

    const audit = await state.pool.query<{ before: { selector: unknown }; after: { selector: unknown; priority: number } }>(
      "SELECT before, after FROM audit_log WHERE action = 'policy.update' AND target_id = $1 ORDER BY id",
      [policy],
    );
    expect(audit.rows).toHaveLength(2);
    expect(audit.rows[1]).toMatchObject({ before: { selector: { labels: { site: 'berlin' } } }, after: { selector: { labels: { site: 'paris' } }, priority: 105 } });
  });

  it('refuses a selector change while a rollout of the policy is active (409), not a description change', async () => {
    const group = suffix();
    for (const x of ['a', 'b']) await insertAgent(state.pool, `${x}-${group}`, { group });
    const policy = await createPolicy({ name: `busy-${group}`, selector: { labels: { group } }, priority: 100 });
    await publish(policy, { sources: [file('/var/log/app/*.log')] });
    await publish(policy, { sources: [{ ...file('/var/log/app/*.log'), startAt: 'end' }] });
    const started = await app.inject({
      method: 'POST',
      url: `/api/v1/policies/${policy}/rollouts`,
      headers: operator,
      payload: { revision: 2, strategy: { kind: 'staged', canary: { agents: [`a-${group}`] }, waves: [{ percent: 100 }], soakSeconds: 60 } },
    });
    expect(started.statusCode, started.body).toBe(201);
    const refused = await patch(policy, { selector: { labels: { group, site: 'x' } } });
    expect(refused.statusCode).toBe(409);
    expect(refused.json<{ error: { message: string } }>().error.message).toBe(
      `policy ${policy}: its selector and priority cannot change while rollout ${started.json<{ id: number }>().id} is running; wait for it to finish or abort it`,
    );
    expect((await patch(policy, { priority: 3 })).statusCode).toBe(409);
    expect((await patch(policy, { description: 'still editable' })).statusCode).toBe(200);
    // The same selector is no change.
    expect((await patch(policy, { selector: { labels: { group } } })).statusCode).toBe(200);
  });

  it('refuses a selector that picks agents the current revision does not fit; bad bodies are 400, viewers 403, unknown 404', async () => {
    const group = suffix();
    await insertAgent(state.pool, `narrow-${group}`, { group }, ['/srv/other']);
    const policy = await createPolicy({ name: `fit-${group}`, selector: { labels: { group, none: 'yet' } }, priority: 100 });
    await publish(policy, { sources: [file('/var/log/app/*.log')] });
    const misfit = await patch(policy, { selector: { labels: { group } } });
    expect(misfit.statusCode).toBe(400);
    expect(misfit.json<{ error: { message: string } }>().error.message).toContain(`sources[0].include[0]: /var/log/app is outside the allowedRoots of agent narrow-${group} (/srv/other)`);
    expect(await policyOf(`narrow-${group}`)).not.toBe(policy);
    expect((await patch(policy, {})).statusCode).toBe(400);
    expect((await patch(policy, { name: 'renamed' })).statusCode).toBe(400);
    expect((await patch(policy, { description: 'x' }, viewer)).statusCode).toBe(403);
    expect((await patch(`missing-${group}`, { description: 'x' })).statusCode).toBe(404);
  });
});
