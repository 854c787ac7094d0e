/**
 * The agent target against the agent's own http-push source, mounted on the agent's HTTP server the way the
 * source registry mounts it (its outbox an in-memory test double): the simulator's requests are what the
 * source accepts, its record ids come out of the run id and batch, a full outbox (429 + Retry-After) is waited
 * out and retried under the same Idempotency-Key, and a wrong token ends the run with the agent's reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentHttpServer } from '../../agent/src/http/server.ts';
import { HttpPushSource } from '../../agent/src/sources/http-push/http-push-source.ts';
import { MemoryContext, type MemoryContextOptions } from '../../agent/test/support/memory-context.ts';
import { httpPushConfig } from '../../agent/test/support/source-config.ts';
import { servePushSource } from '../../agent/test/support/push-server.ts';
import { runIdOf, runSimulation, type SimulationOptions } from './simulator.ts';
import { HttpTarget } from './targets/http-target.ts';

const TOKEN = 'sim-push-token-0123456789';
let servers: AgentHttpServer[] = [];
afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
});

async function agentPush(options: MemoryContextOptions = {}): Promise<{ ctx: MemoryContext; url: string }> {
  const source = new HttpPushSource(
    httpPushConfig({ type: 'http-push', id: 'sim-push', dataset: 'readings', token: TOKEN }),
  );
  const ctx = new MemoryContext({ sourceId: 'sim-push', agentId: 'gw-1', ...options });
  await source.start(ctx);
  const { server, port } = await servePushSource(source);
  servers.push(server);
  return { ctx, url: `http://127.0.0.1:${String(port)}` };
}

const options: SimulationOptions = {
  scenario: 'iot',
  seed: 9,
  entities: 10,
  ratePerSecond: 2000,
  count: 300,
  batchSize: 50,
  concurrency: 2,
  startMs: Date.parse('2026-12-01T00:00:00Z'),
  timeScale: 1,
  skewMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  anomalies: [],
};

describe('the agent target', () => {
  it('pushes batches the http-push source commits, with record ids from the run and batch', async () => {
    const { ctx, url } = await agentPush({ autoAck: true });
    const target = new HttpTarget({ kind: 'agent', url, dataset: 'readings', token: TOKEN, connections: 2 });
    const summary = await runSimulation(options, { target });
    await target.close();
    expect(summary).toMatchObject({ error: null, sent: 300, accepted: 300, rejected: 0, batches: 6 });
    const envelopes = ctx.envelopes();
    expect(envelopes).toHaveLength(300);
    const runId = runIdOf(options);
    expect(new Set(envelopes.map((e) => e.id))).toEqual(
      new Set(
        Array.from(
          { length: 300 },
          (_, i) => `gw-1:sim-push:h:${runId}-${String(Math.floor(i / 50) * 50)}:${String(i % 50)}`,
        ),
      ),
    );
    expect(envelopes.every((e) => typeof (e.payload as { ts: unknown }).ts === 'string')).toBe(true);
  });

  it('waits out a full outbox (429) and retries the same request, so nothing lands twice', async () => {
    const { ctx, url } = await agentPush({ maxRows: 100, autoAck: false });
    // The shipper catches up a moment after each refusal.
    const shipper = setInterval(() => ctx.ack(), 300);
    const target = new HttpTarget({ kind: 'agent', url, dataset: 'readings', token: TOKEN, connections: 2 });
    try {
      const summary = await runSimulation(options, { target });
      expect(summary).toMatchObject({ error: null, accepted: 300 });
      expect(target.retries).toBeGreaterThan(0);
    } finally {
      clearInterval(shipper);
      await target.close();
    }
    const ids = ctx.envelopes().map((e) => e.id);
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
  });

  it('ends the run at once with the agent\u2019s reason when the token is wrong', async () => {
    const { ctx, url } = await agentPush({ autoAck: true });
    const target = new HttpTarget({
      kind: 'agent',
      url,
      dataset: 'readings',
      token: 'not-the-token',
      connections: 2,
    });
    const summary = await runSimulation(options, { target });
    await target.close();
    expect(summary.error).toMatch(
      /^agent answered 40[13] to POST \/v1\/ingest\/readings: (Unauthorized|Forbidden)Error: /,
    );
    expect(summary.accepted).toBe(0);
    expect(ctx.envelopes()).toHaveLength(0);
  });
});
