import { describe, expect, it } from 'vitest';
import type { AgentSummary } from '../../api/agents.ts';
import { attentionOf, csvCell, filterAgents, fleetCsv, NO_FILTER, outboxOf } from './fleet-view.ts';

const HASH = 'a'.repeat(64);
function agent(id: string, extra: Partial<AgentSummary> = {}): AgentSummary {
  return {
    id,
    name: id.replace(/-[0-9a-f]{6}$/, ''),
    labels: { site: 'berlin' },
    status: 'active',
    connectivity: 'online',
    hostname: `${id}.local`,
    version: '0.1.0',
    enrolledAt: '2026-12-01T00:00:00Z',
    revokedAt: null,
    lastSeenAt: '2026-12-02T10:00:00Z',
    reportedHash: HASH,
    applyState: 'applied',
    applyHash: HASH,
    applyReason: null,
    desired: { revision: { policy: 'default', number: 3, id: 7 }, hash: HASH },
    drift: false,
    outbox: { rows: 5, bytes: 900, oldestAgeMs: 1200 },
    ...extra,
  };
}

const fleet = [
  agent('gw-1-a1b2c3'),
  agent('gw-2-d4e5f6', { connectivity: 'stale', labels: { site: 'paris' } }),
  agent('gw-3-000000', { connectivity: 'offline', drift: true, version: '0.2.0' }),
  agent('gw-4-111111', { status: 'revoked', connectivity: 'offline' }),
  agent('gw-5-222222', { applyState: 'rolled-back', applyReason: 'source app-log: ENOENT', drift: true }),
];

describe('fleet view', () => {
  it('filters by status (revoked apart from connectivity), drift, and searches every word', () => {
    const ids = (filter: Partial<typeof NO_FILTER>) => filterAgents(fleet, { ...NO_FILTER, ...filter }).map((a) => a.id);
    expect(ids({ status: 'offline' })).toEqual(['gw-3-000000']);
    expect(ids({ status: 'revoked' })).toEqual(['gw-4-111111']);
    expect(ids({ driftOnly: true })).toEqual(['gw-3-000000', 'gw-5-222222']);
    expect(ids({ search: 'site=paris' })).toEqual(['gw-2-d4e5f6']);
    expect(ids({ search: 'GW 0.2.0' })).toEqual(['gw-3-000000']);
    expect(ids({ search: 'default #3 berlin', status: 'online' })).toEqual(['gw-1-a1b2c3', 'gw-5-222222']);
  });

  it('highlights offline, stale, a failed or rolled-back apply, and drift; never a revoked agent', () => {
    expect(fleet.map(attentionOf)).toEqual([[], ['stale'], ['offline', 'drift'], [], ['failed', 'drift']]);
  });

  it('shows the outbox as depth (rows, bytes) and the age of its oldest row at the last check-in', () => {
    expect(outboxOf(agent('a', { outbox: { rows: 12_500, bytes: 3 * 1024 * 1024, oldestAgeMs: 125_000 } }))).toEqual({ depth: '12,500 rows, 3.0 MiB', age: 'oldest 2 min' });
    expect(outboxOf(agent('a', { outbox: { rows: 1, bytes: 200, oldestAgeMs: null } }))).toEqual({ depth: '1 row, 200 B', age: '' });
    expect(outboxOf(agent('a', { outbox: { rows: 0, bytes: 0, oldestAgeMs: null } }))).toEqual({ depth: 'empty', age: '' });
    expect(outboxOf(agent('a', { outbox: null }))).toEqual({ depth: '—', age: '' });
  });

  it('exports what is shown as CSV, quoted per RFC 4180 and safe to open in a spreadsheet', () => {
    const csv = fleetCsv([agent('gw-1-a1b2c3', { name: '=HYPERLINK("x")', labels: { a: '1', b: '2' } })]);
    const [header, row] = csv.split('\r\n');
    expect(header).toBe('id,name,status,lastSeenAt,version,policy,revision,applyState,drift,outboxRows,outboxOldestAgeMs,labels,hostname');
    expect(row).toBe(`gw-1-a1b2c3,"'=HYPERLINK(""x"")",online,2026-12-02T10:00:00Z,0.1.0,default,3,applied,false,5,1200,"a=1, b=2",gw-1-a1b2c3.local`);
    expect(csv.endsWith('\r\n')).toBe(true);
    expect(csvCell('-1')).toBe("'-1");
    expect(csvCell('plain')).toBe('plain');
  });
});
