/**
 * The fleet when the control plane is not there: two `serve` processes behind one address (a round-robin TCP
 * proxy) serve one fleet; a rollout survives both being killed between its waves; with both stopped for a
 * minute the agents keep shipping on their last config (the consumer keeps loading), an agent restarted
 * meanwhile runs its last good config, and all of them re-sync once the control plane is back; an agent
 * revoked through one process is refused by the other at its next request.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInstanceHeader } from '@sluice/shared/fleet/checkin';
import type { FleetAgent } from './support/fleet-agent.ts';
import type { RevisionView } from './support/fleet-api.ts';
import { FleetHarness, LineFeed } from './support/fleet-harness.ts';

const POLICY = 'edge';
/** The figure: the control plane is away for a whole minute. */
const OUTAGE_MS = 60_000;

let fleet: FleetHarness;
let feed: LineFeed;
let dataset = '';
let logs = '';
const agents: FleetAgent[] = [];
let step = 0;

/** Revision n differs from the others by its poll interval only: it ships the same lines. */
async function publish(message: string): Promise<RevisionView> {
  step++;
  return fleet.api.publish(POLICY, { sources: [{ type: 'file', id: 'app-logs', dataset, include: [join(logs, '*.log')], pollIntervalMs: 200 + step }] }, message);
}


/** Rows each agent has in PostgreSQL so far (loaded by the consumer, whatever the control plane API does). */
async function rowsByAgent(): Promise<Map<string, number>> {
  const { rows } = await fleet.pool.query<{ agent_id: string; n: string }>(`SELECT agent_id, count(*) AS n FROM ${fleet.dataSchema}.${dataset} GROUP BY agent_id`);
  return new Map(rows.map((r) => [r.agent_id, Number(r.n)]));
}

beforeAll(async () => {
  fleet = await FleetHarness.start({ name: 'resilience', serves: 2, consume: true });
  dataset = `fleet_resil_${fleet.id}`;
  await fleet.createDataset(dataset);
  logs = join(fleet.root, 'logs');
  mkdirSync(logs);
  feed = new LineFeed(join(logs, 'app.log'));
  await fleet.api.createPolicy(POLICY, {});
  const rev1 = await publish('tail the app log');
  const token = await fleet.api.createEnrollmentToken({ maxUses: 3 });
  for (const name of ['east', 'west', 'north']) agents.push(await fleet.addAgent(name, token));
  // Once all run, so no agent's pre-rollout rate includes catching up on a backlog.
  feed.start(200, 5);
  await fleet.untilApplied(agents.map((a) => a.agentId), rev1.hash);
}, 180_000);

afterAll(async () => {
  feed?.stop();
  await fleet?.close();
});

describe('fleet resilience (real control plane and agents)', () => {
  it('two serve processes behind one address serve one fleet through a staged rollout', async () => {
    const rev = await publish('two processes');
    const rollout = await fleet.api.startRollout(POLICY, rev.number, { kind: 'staged', canary: { agents: [agents[0]!.agentId] }, waves: [{ percent: 100 }], soakSeconds: 3 });
    await fleet.untilApplied(agents.map((a) => a.agentId), rev.hash, 45_000);
    await fleet.untilRollout(rollout, ['completed']);
    // Both processes answered agents: the proxy handed connections to each.
    const handed = [...fleet.proxyConnections().values()];
    expect(handed).toHaveLength(2);
    for (const n of handed) expect(n).toBeGreaterThan(0);
    // And both see the same fleet.
    const seen = await Promise.all([0, 1].map(async (i) => (await fleet.apiAt(i).agents()).map((a) => `${a.id}:${a.reportedHash}`).sort()));
    expect(seen[0]).toEqual(seen[1]);
  });

  it('a control plane killed between waves resumes the rollout after its restart', async () => {
    const rev = await publish('survives a restart');
    const [first, ...rest] = agents;
    const rollout = await fleet.api.startRollout(POLICY, rev.number, { kind: 'staged', canary: { agents: [first!.agentId] }, waves: [{ percent: 100 }], soakSeconds: 6 });
    await fleet.untilApplied([first!.agentId], rev.hash, 20_000);
    // Mid-soak: nothing of the rollout is in any process's memory once both are gone.
    await Promise.all([fleet.killServe(0), fleet.killServe(1)]);
    await sleep(2000);
    await fleet.startServe(0);
    await fleet.startServe(1);
    await fleet.untilApplied(rest.map((a) => a.agentId), rev.hash, 45_000);
    const done = await fleet.untilRollout(rollout, ['completed']);
    expect(done.id).toBe(rollout.id);
  });

  it('with the control plane away for a minute, agents ship on their last config, a restarted one runs its last good, and all re-sync after', async () => {
    const [east, west, north] = agents as [FleetAgent, FleetAgent, FleetAgent];
    const runningHash = north.lastGood()!.hash;
    // north is down while a new revision goes out, so it can only learn of it after the outage.
    await north.stop();
    const rev = await publish('published while north is down');
    await fleet.api.startRollout(POLICY, rev.number, { kind: 'all' });
    await fleet.untilApplied([east.agentId, west.agentId], rev.hash, 30_000);

    await Promise.all([fleet.stopServe(0), fleet.stopServe(1)]);
    const stoppedAt = Date.now();
    const atStop = await rowsByAgent();
    await north.start();
    // Restarted without a control plane, north runs its last good config (the revision before).
    expect(north.lastGood()?.hash).toBe(runningHash);
    const shipped = await fleet.until(
      'every agent shipping into PostgreSQL during the outage',
      async () => {
        const now = await rowsByAgent();
        return agents.every((a) => (now.get(a.agentId) ?? 0) > (atStop.get(a.agentId) ?? 0) + 20) ? now : undefined;
      },
      OUTAGE_MS - 5000,
      1000,
    );
    expect(shipped.size).toBe(3);
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt)));

    await fleet.startServe(0);
    await fleet.startServe(1);
    const backAt = Date.now();
    // north catches up with the revision published while it was down; the others stay on it.
    // (An agent backs off while the control plane is away, so the first check-in after may take a while.)
    await fleet.untilApplied([north.agentId, east.agentId, west.agentId], rev.hash, 60_000);
    await fleet.untilAgents('every agent checked in after the restart', (all) => agents.every((a) => Date.parse(all.get(a.agentId)?.lastSeenAt ?? '') >= backAt));
    expect(north.lastGood()?.hash).toBe(rev.hash);
  });

  it('an agent revoked through one serve process is refused by the other at its next request', async () => {
    const victim = agents[2]!;
    const identity = victim.identity();
    const asAgent = (i: number) =>
      fetch(`${fleet.serveUrl(i)}/api/v1/agent/config`, {
        headers: { authorization: `Bearer ${identity.credential}`, 'x-sluice-instance': formatInstanceHeader(identity.instance) },
      });
    // Both processes know the agent (and have it cached) before the revoke.
    for (const i of [0, 1]) expect((await asAgent(i)).status).toBe(200);
    await fleet.apiAt(0).revokeAgent(victim.agentId);
    // The revoke reaches the other process as a PostgreSQL notification, delivered on commit but not
    // before the revoke's answer; the agent's own next request comes later than this pause anyway.
    await sleep(300);
    for (const i of [1, 0]) {
      const res = await asAgent(i);
      expect(res.status).toBe(401);
      expect(await res.text()).toMatch(/was revoked/);
    }
    // The agent itself is cut off: it stops being seen, and the fleet lists it as revoked.
    await sleep(1500);
    const last = (await fleet.apiAt(1).agent(victim.agentId)).lastSeenAt;
    await sleep(3000);
    const detail = await fleet.apiAt(1).agent(victim.agentId);
    expect(detail.status).toBe('revoked');
    expect(detail.lastSeenAt).toBe(last);
  });
});
