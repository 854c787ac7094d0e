// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiRequest } from '../../../common/ipc.ts';
import { fakeControlPlane } from '../../api/fake-control-plane.ts';
import { ClientContext } from '../../app/client-context.ts';
import { AuditPage } from './audit-page.tsx';

afterEach(cleanup);

const entry = (id: number, action: string, extra: Record<string, unknown> = {}) => ({
  id: String(id),
  at: '2026-12-02T10:00:00Z',
  actor: { kind: 'user', id: 'olga', name: 'olga' },
  action,
  target: { kind: 'agent', id: 'gw-1' },
  before: null,
  after: null,
  requestId: `req-${String(id)}`,
  ...extra,
});

/** Page 1 (newest) has a cursor to page 2, which is the last. */
function auditRoute(request: ApiRequest) {
  const query = new URLSearchParams(request.url.split('?')[1]);
  if (query.get('cursor') === 'c2') return { entries: [entry(1, 'agent.enroll')], nextCursor: null };
  return {
    entries: [entry(3, 'agent.labels', { before: { labels: { site: 'a' } }, after: { labels: { site: 'b' } } }), entry(2, 'auth.login', { actor: { kind: 'apiKey', id: 'k1', name: 'ci' } })],
    nextCursor: 'c2',
  };
}

async function renderAudit(role: 'viewer' | 'operator' | 'admin') {
  const { client, sent } = await fakeControlPlane({ 'GET /api/v1/audit': auditRoute }, role);
  render(
    <ClientContext.Provider value={client}>
      <AuditPage />
    </ClientContext.Provider>,
  );
  return sent;
}

const queryOf = (request: ApiRequest | undefined) => Object.fromEntries(new URLSearchParams(request?.url.split('?')[1]));

describe('audit page', () => {
  it('shows the newest entries with who, what, target and the change, and pages by cursor', async () => {
    const sent = await renderAudit('admin');
    const first = await screen.findByText('agent.labels');
    const row = first.closest('tr')!;
    expect(within(row).getByText('olga (user)')).toBeTruthy();
    expect(within(row).getByText('agent:gw-1')).toBeTruthy();
    expect(within(row).getByText('1 field: before → after')).toBeTruthy();
    // Inside the closed <details>: shown when its summary is chosen.
    const diff = row.querySelector('details table');
    expect(diff?.querySelectorAll(':scope > tbody > tr')[0]?.textContent).toContain('labels.site');
    expect(screen.getByText('ci (API key k1)')).toBeTruthy();
    expect(queryOf(sent[0])).toEqual({ limit: '50' });

    const older = screen.getByRole<HTMLButtonElement>('button', { name: 'Older →' });
    expect(screen.getByRole<HTMLButtonElement>('button', { name: '← Newer' }).disabled).toBe(true);
    fireEvent.click(older);
    await screen.findByText('agent.enroll');
    expect(queryOf(sent.at(-1))).toEqual({ limit: '50', cursor: 'c2' });
    expect(screen.getByText('Page 2')).toBeTruthy();
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Older →' }).disabled).toBe(true);
    fireEvent.click(screen.getByRole('button', { name: '← Newer' }));
    await screen.findByText('agent.labels');
  });

  it('filters by actor, action, target and time, and refuses a filter it cannot send', async () => {
    const sent = await renderAudit('admin');
    await screen.findByText('agent.labels');
    fireEvent.change(screen.getByLabelText('Actor'), { target: { value: 'olga' } });
    fireEvent.change(screen.getByLabelText('Action'), { target: { value: 'agent.*' } });
    fireEvent.change(screen.getByLabelText('Target'), { target: { value: 'agent:gw-1' } });
    fireEvent.change(screen.getByLabelText('From'), { target: { value: '2026-12-01T08:00' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    await screen.findByText('agent.labels');
    expect(queryOf(sent.at(-1))).toEqual({ limit: '50', actor: 'olga', action: 'agent.*', targetKind: 'agent', targetId: 'gw-1', from: new Date('2026-12-01T08:00').toISOString() });

    const before = sent.length;
    fireEvent.change(screen.getByLabelText('Action'), { target: { value: 'agent*' } });
    fireEvent.click(screen.getByRole('button', { name: 'Apply' }));
    expect(within(screen.getByRole('list', { name: 'Filter problems' })).getByText(/prefix ending in \.\*/)).toBeTruthy();
    expect(sent.length).toBe(before);
    fireEvent.click(screen.getByRole('button', { name: 'Clear' }));
    await screen.findByText('agent.labels');
    expect(queryOf(sent.at(-1))).toEqual({ limit: '50' });
  });

  it('is for admins only: other roles get a sentence and no request', async () => {
    const sent = await renderAudit('operator');
    expect(screen.getByText('The audit log is for admins: your role is operator.')).toBeTruthy();
    expect(sent).toEqual([]);
  });
});
