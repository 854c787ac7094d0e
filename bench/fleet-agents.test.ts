/**
 * The bench's simulated agent speaks the check-in protocol: every body it builds is valid against the
 * shared request schema (the one the control plane's route validates with), its counters only grow, and its
 * ledger rows are sent until an answer says they are written (`ledgerAckedThrough`), then not again.
 */
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { checkinRequestSchema, type CheckinRequest, type CheckinResponse } from '@sluice/shared/fleet/checkin';
import { SimulatedAgent } from './fleet-agents.ts';

// Validated the way the control plane's check-in route validates its body: fastify with the route schema.
const app = Fastify();
app.post('/checkin', { schema: { body: checkinRequestSchema } }, () => ({ ok: true }));
afterAll(() => app.close());

async function accepted(body: CheckinRequest): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/checkin', payload: body });
  return res.statusCode === 200 ? 'accepted' : res.body;
}

const T0 = Date.parse('2026-12-02T06:00:30.000Z');
const enrolled = { agentId: 'bench-7-a1b2c3', credential: 'sla_secret' };
const hash = 'a'.repeat(64);
const answer = (over: Partial<CheckinResponse> = {}): CheckinResponse => ({ agentId: enrolled.agentId, desired: null, nextCheckinSeconds: 10, ...over });

describe('SimulatedAgent', () => {
  it('builds check-ins the control plane accepts, with its own credential and session', async () => {
    const agent = new SimulatedAgent(7, enrolled, T0);
    const body = agent.checkin(T0 + 10_000);
    expect(await accepted(body)).toBe('accepted');
    // The check is real: a ledger minute that is not a whole minute is refused.
    expect(await accepted({ ...body, ledger: [{ dataset: 'd', minute: '2026-12-02T06:00:30.000Z', shipped: 1 }] })).toContain('ledger/0/minute');
    expect(body.health.sources.length).toBeGreaterThanOrEqual(3);
    expect(body.health.sources.length).toBeLessThanOrEqual(5);
    expect(agent.headers).toMatchObject({ authorization: 'Bearer sla_secret', 'x-sluice-instance': expect.stringMatching(/^2\.[A-Za-z0-9_-]{16}$/) as unknown });
  });

  it('keeps counting up and sends each ledger row until an answer says it is written', async () => {
    const agent = new SimulatedAgent(3, enrolled, T0);
    const first = agent.checkin(T0 + 10_000);
    expect(first.ledger.map((r) => r.minute)).toEqual(first.ledger.map(() => '2026-12-02T06:00:00.000Z'));
    // Answered, but not yet written (no ledgerAckedThrough): the next one carries the same minute with the larger count.
    agent.answered(answer(), T0 + 10_000);
    const second = agent.checkin(T0 + 20_000);
    expect(second.ledger).toHaveLength(first.ledger.length);
    for (const [i, row] of second.ledger.entries()) expect(row.shipped).toBeGreaterThan(first.ledger[i]!.shipped);
    expect(second.ledgerThrough).toBeGreaterThan(first.ledgerThrough!);
    agent.answered(answer({ ledgerAckedThrough: second.ledgerThrough! }), T0 + 20_000);
    // Next minute: only its rows, the acknowledged minute stays behind.
    const third = agent.checkin(T0 + 40_000);
    expect(new Set(third.ledger.map((r) => r.minute))).toEqual(new Set(['2026-12-02T06:01:00.000Z']));
    const shipped = (b: typeof first) => b.health.datasets.reduce((sum, d) => sum + d.shipped, 0);
    expect(shipped(third)).toBeGreaterThan(shipped(second));
    expect(await accepted(third)).toBe('accepted');
  });

  it('runs the desired config it is sent and reports its hash from then on', () => {
    const agent = new SimulatedAgent(1, enrolled, T0);
    const first = agent.checkin(T0 + 10_000);
    expect(first.config).toEqual({ hash: null, revision: null });
    agent.answered(answer({ desired: { revision: { policy: 'bench', number: 2, id: 9 }, hash }, config: { sources: [] } }), T0 + 10_000);
    const second = agent.checkin(T0 + 20_000);
    expect(second.config).toEqual({ hash, revision: { policy: 'bench', number: 2 } });
    expect(second.apply).toMatchObject({ state: 'applied', hash });
  });
});
