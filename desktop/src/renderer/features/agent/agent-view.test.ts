import { describe, expect, it } from 'vitest';
import type { CheckinHealth } from '@sluice/shared/fleet/checkin';
import type { AgentDetail } from '../../api/agents.ts';
import { healthOf } from '../../api/agents.ts';
import { checkinSeries, recentErrors } from './agent-view.ts';

const health: CheckinHealth = {
  at: '2026-12-02T10:00:00Z',
  startedAt: '2026-12-02T09:00:00Z',
  sources: [
    { id: 'a', type: 'file', dataset: 'd', state: 'running' },
    { id: 'b', type: 'http-poll', dataset: 'd', state: 'error', lastError: { at: '2026-12-02T09:59:00Z', message: 'HTTP 500 from upstream' } },
  ],
  outbox: { rows: 1, bytes: 10, oldestAgeMs: 5 },
  breakers: [
    { source: 'b', endpoint: 'https://up/api', state: 'open' },
    { source: 'c', endpoint: 'https://ok/api', state: 'closed' },
  ],
  datasets: [],
};

describe('agent view', () => {
  it('lists a failed apply, source errors and open breakers, newest first', () => {
    const agent = { applyState: 'rolled-back', applyReason: 'source a: no such folder' } as AgentDetail;
    expect(recentErrors(agent, health)).toEqual([
      { at: null, where: 'apply (rolled-back)', message: 'source a: no such folder' },
      { at: '2026-12-02T10:00:00Z', where: 'breaker b → https://up/api', message: 'circuit open' },
      { at: '2026-12-02T09:59:00Z', where: 'source b', message: 'HTTP 500 from upstream' },
    ]);
  });

  it('reads a health snapshot only when it has the snapshot shape', () => {
    expect(healthOf(health)).toBe(health);
    expect(healthOf(null)).toBeNull();
    expect(healthOf({ sources: 'x' })).toBeNull();
  });

  it('charts throughput between check-ins of one process, starting afresh after a restart', () => {
    const at = (minute: number, shipped: number, startedAt = '2026-12-02T09:00:00Z', rows = 3) => ({
      at: `2026-12-02T10:0${String(minute)}:00Z`,
      configHash: null,
      applyState: 'applied' as const,
      health: { ...health, startedAt, outbox: { rows, bytes: 0, oldestAgeMs: null }, datasets: [{ dataset: 'd', read: shipped, committed: shipped, shipped }] },
    });
    // Newest first, as the API answers.
    const series = checkinSeries([at(4, 10, '2026-12-02T10:03:30Z', 0), at(2, 700), at(1, 400, undefined, 9), at(0, 100)]);
    expect(series.x).toEqual([0, 1, 2, 4].map((m) => Date.parse(`2026-12-02T10:0${String(m)}:00Z`) / 1000));
    expect(series.shippedPerMinute).toEqual([null, 300, 300, null]);
    expect(series.outboxRows).toEqual([3, 9, 3, 0]);
  });
});
