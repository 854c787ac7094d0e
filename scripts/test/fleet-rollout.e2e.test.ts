/**
 * A staged rollout through real processes: three agents enroll and run their policy's first revision; a
 * second revision goes to one canary, then, once the canary's gate has held for the soak time, to the other
 * two. A revision that fails at runtime on the canary, and one that applies but stops the canary's data, are
 * both rolled back automatically, and the other two agents never receive either.
 *
 * Every agent tails the same log file the test keeps appending to, so each one ships continuously and the
 * data-flow gate has a pre-rollout rate per agent to compare with.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetAgent } from './support/fleet-agent.ts';
import type { AgentView, RevisionView } from './support/fleet-api.ts';
import { FleetHarness, LineFeed } from './support/fleet-harness.ts';

const SOAK_SECONDS = 5;
const POLICY = 'gateways';

let fleet: FleetHarness;
let feed: LineFeed;
let dataset = '';
let logs = '';
let canary: FleetAgent;
let others: FleetAgent[] = [];
let rev2: RevisionView;

/** The pipeline every revision starts from: tail the shared log file. */
function pipeline(fileOptions: Record<string, unknown> = {}, more: unknown[] = []): { sources: unknown[] } {
  return { sources: [{ type: 'file', id: 'app-logs', dataset, include: [join(logs, '*.log')], ...fileOptions }, ...more] };
}

/** An agent runs `hash`: reported, and applied (or returned to it by its own rollback). */
function runs(agent: AgentView | undefined, hash: string): boolean {
  return agent?.reportedHash === hash && (agent.applyState === 'applied' || agent.applyState === 'rolled-back');
}


/** No check-in of `agent` ever reported `hash`, and it was never told to run it. */
async function neverReceived(agent: FleetAgent, hash: string): Promise<void> {
  const detail = await fleet.api.agent(agent.agentId);
  expect(detail.checkins.length).toBeGreaterThan(0);
  expect(detail.checkins.map((c) => c.configHash)).not.toContain(hash);
  expect(detail.reportedHash).not.toBe(hash);
  expect(detail.desired?.hash).not.toBe(hash);
  expect(agent.lastGood()?.hash).not.toBe(hash);
}

beforeAll(async () => {
  fleet = await FleetHarness.start({ name: 'rollout' });
  dataset = `fleet_rollout_${fleet.id}`;
  await fleet.createDataset(dataset);
  logs = join(fleet.root, 'logs');
  mkdirSync(logs);
  feed = new LineFeed(join(logs, 'app.log'));

  await fleet.api.createPolicy(POLICY, { site: 'e2e' });
  const rev1 = await fleet.api.publish(POLICY, pipeline(), 'tail the app log');
  expect(rev1.number).toBe(1);
  const token = await fleet.api.createEnrollmentToken({ labels: { site: 'e2e' }, maxUses: 3 });
  canary = await fleet.addAgent('canary', token);
  others = [await fleet.addAgent('wave-a', token), await fleet.addAgent('wave-b', token)];
  // Only once all three run: an agent started later would first catch up on a backlog, and that burst
  // would be part of its pre-rollout rate.
  feed.start(100, 5);
}, 180_000);

afterAll(async () => {
  feed?.stop();
  await fleet?.close();
});

describe('fleet rollout (real control plane and agents)', () => {
  it('three agents enroll and receive their policy', async () => {
    const ids = fleet.agents.map((a) => a.agentId);
    expect(new Set(ids).size).toBe(3);
    expect(canary.agentId).toMatch(/^canary-[0-9a-f]{6}$/);
    const rev1 = await fleet.api.expect<RevisionView>('GET', `/api/v1/policies/${POLICY}/revisions/1`);
    await fleet.untilApplied(ids, rev1.hash);
    const agents = await fleet.untilAgents('the token labels on every agent', (all) => ids.every((id) => all.get(id)?.labels.site === 'e2e'));
    for (const id of ids) expect(agents.get(id)?.desired?.revision.number).toBe(1);
    // Shipping, as its own health says (records read and shipped since it started).
    for (const agent of fleet.agents) {
      await fleet.until(`${agent.name} shipping`, async () => {
        const detail = await fleet.api.agent(agent.agentId);
        const health = detail.health as { datasets?: Array<{ dataset: string; shipped: number }> } | null;
        return (health?.datasets?.find((d) => d.dataset === dataset)?.shipped ?? 0) > 0;
      });
      expect(agent.lastGood()?.hash).toBe(rev1.hash);
    }
  });

  it('a staged rollout reaches the canary at once and the wave within seconds of the gate opening', async () => {
    rev2 = await fleet.api.publish(POLICY, pipeline({ pollIntervalMs: 200 }), 'poll a little faster');
    expect(rev2.number).toBe(2);
    const started = Date.now();
    const rollout = await fleet.api.startRollout(POLICY, 2, { kind: 'staged', canary: { agents: [canary.agentId] }, waves: [{ percent: 100 }], soakSeconds: SOAK_SECONDS });
    expect(rollout.agents).toEqual(expect.arrayContaining([{ agentId: canary.agentId, wave: 0 }, ...others.map((a) => ({ agentId: a.agentId, wave: 1 }))]));
    const watch = fleet.watchRollout(rollout.id);

    const canaryAt = (await fleet.untilApplied([canary.agentId], rev2.hash, 20_000)).get(canary.agentId)!;
    expect(canaryAt - started).toBeLessThan(10_000);
    // While the canary soaks, the wave keeps the old revision.
    const during = await fleet.api.agents();
    for (const other of others) expect(during.find((a) => a.id === other.agentId)?.reportedHash).not.toBe(rev2.hash);

    const waveAt = await fleet.untilApplied(
      others.map((a) => a.agentId),
      rev2.hash,
      40_000,
    );
    const done = await fleet.untilRollout(rollout, ['completed']);
    const phases = await watch.stop();
    // The gate: the canary soaked for soakSeconds once it had applied, then wave 1 opened.
    const soakBegan = phases.get('0:soaking')!;
    const gateOpened = phases.get('1:applying')!;
    expect(soakBegan - canaryAt).toBeLessThan(3000);
    expect(gateOpened - soakBegan).toBeGreaterThanOrEqual(SOAK_SECONDS * 1000);
    expect(gateOpened - soakBegan).toBeLessThan(SOAK_SECONDS * 1000 + 3000);
    for (const other of others) {
      const at = waveAt.get(other.agentId)!;
      // Not before the gate opened (a 250 ms poll can see it a little late, never early), within seconds after.
      expect(at).toBeGreaterThanOrEqual(gateOpened);
      expect(at - gateOpened).toBeLessThan(5000);
    }
    expect(done.reason).toBeNull();
  });

  it('a revision that fails at runtime on the canary is reported failed and rolled back; the wave never receives it', async () => {
    // A drop folder below a regular file cannot be created: the source fails at start, on this host only
    // because of what is on its disk, while the policy itself is valid (inside allowedRoots, dataset known).
    writeFileSync(join(fleet.root, 'not-a-folder'), 'a file where the drop folder should be\n');
    const broken = pipeline({ pollIntervalMs: 200 }, [{ type: 'drop', id: 'inbox', dataset, path: join(fleet.root, 'not-a-folder', 'inbox') }]);
    const rev3 = await fleet.api.publish(POLICY, broken, 'add an inbox');
    const rollout = await fleet.api.startRollout(POLICY, rev3.number, { kind: 'staged', canary: { agents: [canary.agentId] }, waves: [{ percent: 100 }], soakSeconds: SOAK_SECONDS });

    const ended = await fleet.untilRollout(rollout, ['rolled-back'], 60_000);
    // The gate names the agent and passes on the agent's own reason: which source, and why.
    expect(ended.reason).toMatch(new RegExp(`agent ${canary.agentId} reported (failed|rolled-back) \\(.*sources\\.inbox: failed to start: ENOTDIR.*for the new revision`));
    // The canary said so (failed, then back on its last good config) and runs revision 2 again.
    const back = await fleet.untilAgents('the canary back on revision 2', (all) => runs(all.get(canary.agentId), rev2.hash) && all.get(canary.agentId)?.desired?.revision.number === 2);
    expect(back.get(canary.agentId)?.desired?.hash).toBe(rev2.hash);
    const history = (await fleet.api.agent(canary.agentId)).checkins;
    expect(history.some((c) => c.applyState === 'failed' || c.applyState === 'rolled-back')).toBe(true);
    expect(canary.lastGood()?.hash).toBe(rev2.hash);
    for (const other of others) await neverReceived(other, rev3.hash);
  });

  it('a revision that applies but stops the canary data fails the data-flow gate and is rolled back', async () => {
    // Valid and harmless-looking, and it starts cleanly: the pattern just matches no file any more.
    const silent = pipeline({ pollIntervalMs: 200, include: [join(logs, '*.log.archived')] });
    const rev4 = await fleet.api.publish(POLICY, silent, 'tail the archived logs instead');
    const rollout = await fleet.api.startRollout(POLICY, rev4.number, {
      kind: 'staged',
      canary: { agents: [canary.agentId] },
      waves: [{ percent: 100 }],
      soakSeconds: SOAK_SECONDS + 3,
      gate: { minShippingRatio: 0.5 },
    });
    // Honest apply: every source of it runs, so the canary reports it applied before the gate judges the data.
    await fleet.untilApplied([canary.agentId], rev4.hash, 20_000);
    const ended = await fleet.untilRollout(rollout, ['rolled-back'], 60_000);
    // The data-flow gate, for the canary: records it had read before the switch may still ship during the
    // soak (a few, from its outbox), so the rate is what the gate compares, not necessarily 0.
    const judged = new RegExp(`agent ${canary.agentId} ships ${dataset} at ([0-9.]+) records/s, below 0.5 × its ([0-9.]+) records/s before the rollout`).exec(ended.reason ?? '');
    expect(judged, ended.reason ?? '(no reason)').not.toBeNull();
    expect(Number(judged![1])).toBeLessThan(0.5 * Number(judged![2]));
    await fleet.untilAgents('the canary back on revision 2', (all) => all.get(canary.agentId)?.reportedHash === rev2.hash && all.get(canary.agentId)?.applyState === 'applied');
    for (const other of others) await neverReceived(other, rev4.hash);
    // Back on revision 2 the canary ships again, the lines of the silent minutes included.
    const before = feed.written;
    await fleet.until('the canary shipping again', async () => {
      const health = (await fleet.api.agent(canary.agentId)).health as { datasets?: Array<{ dataset: string; read: number }> } | null;
      return (health?.datasets?.find((d) => d.dataset === dataset)?.read ?? 0) >= before ? true : undefined;
    }, 30_000);
  });
});
