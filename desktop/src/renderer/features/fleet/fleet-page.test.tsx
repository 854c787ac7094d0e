// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiNetworkFailure, ApiResponse } from '../../../common/ipc.ts';
import { ApiClient } from '../../api/client.ts';
import { ClientContext } from '../../app/client-context.ts';
import { FleetPage } from './fleet-page.tsx';

afterEach(cleanup);

const HASH = 'b'.repeat(64);
const agent = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: id,
  labels: { site: 'berlin' },
  status: 'active',
  connectivity: 'online',
  hostname: 'h',
  version: '0.1.0',
  enrolledAt: '2026-12-01T00:00:00Z',
  revokedAt: null,
  lastSeenAt: new Date().toISOString(),
  reportedHash: HASH,
  applyState: 'applied',
  applyHash: HASH,
  applyReason: null,
  desired: { revision: { policy: 'default', number: 2, id: 5 }, hash: HASH },
  drift: false,
  outbox: { rows: 12, bytes: 4096, oldestAgeMs: 65_000 },
  ...extra,
});

/** A page under a client whose every call answers `answer` (a list of agents, or a failure). */
function renderFleet(answer: ApiResponse | ApiNetworkFailure) {
  const client = new ApiClient({
    baseUrl: '',
    transport: { send: () => Promise.resolve(answer) },
    keeper: { client: 'browser', keep: () => Promise.resolve(), refreshRequest: () => Promise.resolve(undefined), forget: () => Promise.resolve() },
  });
  render(
    <ClientContext.Provider value={client}>
      <FleetPage />
    </ClientContext.Provider>,
  );
}

const list = (items: unknown[]): ApiResponse => ({ kind: 'response', status: 200, statusText: 'OK', headers: {}, body: JSON.stringify({ items }) });

describe('fleet page', () => {
  it('shows loading, then one row per agent with what needs attention marked', async () => {
    renderFleet(list([agent('gw-ok'), agent('gw-late', { connectivity: 'stale' }), agent('gw-drift', { drift: true, reportedHash: null, applyState: 'failed', applyReason: 'source x: EACCES' })]));
    expect(screen.getByRole('status').textContent).toBe('Loading agents…');
    await screen.findByText('3 agents');
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.className)).toEqual(['', 'attention-stale', 'attention-failed attention-drift']);
    expect(within(rows[0]!).getByText('12 rows, 4.0 KiB')).toBeTruthy();
    expect(within(rows[0]!).getByText('oldest 1 min')).toBeTruthy();
    expect(within(rows[2]!).getByText('drifted')).toBeTruthy();
    expect(within(rows[2]!).getByText('source x: EACCES')).toBeTruthy();
    expect(within(rows[0]!).getByRole('link', { name: 'gw-ok' }).getAttribute('href')).toBe('#/agents/gw-ok');
  });

  it('filters by search and status, and says when nothing matches', async () => {
    renderFleet(list([agent('gw-ok'), agent('gw-late', { connectivity: 'stale' })]));
    await screen.findByText('2 agents');
    fireEvent.change(screen.getByLabelText('Status'), { target: { value: 'stale' } });
    expect(screen.getByText('1 of 2 agents')).toBeTruthy();
    fireEvent.change(screen.getByRole('searchbox'), { target: { value: 'nothing-like-this' } });
    expect(screen.getByText('No agent matches the filter.')).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: 'Clear the filter' }));
    expect(screen.getByText('2 agents')).toBeTruthy();
  });

  it('explains an empty fleet, and an error with a way to try again', async () => {
    renderFleet(list([]));
    expect(await screen.findByText('No agent has enrolled yet.')).toBeTruthy();
    cleanup();
    renderFleet({ kind: 'response', status: 403, statusText: '', headers: {}, body: JSON.stringify({ error: { name: 'ForbiddenError', message: 'this route needs the viewer role' } }) });
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Your role may not do this: this route needs the viewer role');
    expect(within(alert).getByRole('button', { name: 'Try again' })).toBeTruthy();
  });
});
