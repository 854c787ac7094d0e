// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeControlPlane } from '../../api/fake-control-plane.ts';
import { ClientContext } from '../../app/client-context.ts';
import { LedgerPage } from './ledger-page.tsx';
import { ledgerRow } from './ledger-rows.fixture.ts';

afterEach(cleanup);

const row = (agentId: string, minute: string, extra: Parameters<typeof ledgerRow>[3] = {}) => ledgerRow(agentId, 'meters', minute, { loaded: { postgres: 10, search: 10 }, ...extra });
const LEDGER = {
  from: '2026-12-02T10:00:00.000Z',
  to: '2026-12-02T11:00:00.000Z',
  settleSeconds: 120,
  rows: [row('gw-ok', '01'), row('gw-lost', '01'), row('gw-lost', '02', { loaded: { postgres: 7, search: 10 }, loadedEverywhere: 7, missing: 3, missingIn: ['postgres'] })],
  totals: { shipped: 30, loadedEverywhere: 27, deadLettered: 0, inFlight: 0, missing: 3 },
  uncounted: [],
};

async function renderLedger() {
  const { client, sent } = await fakeControlPlane({ 'GET /api/v1/ledger': () => LEDGER, 'GET /api/v1/datasets': () => ({ items: [] }), 'GET /api/v1/agents': () => ({ items: [] }) });
  render(
    <ClientContext.Provider value={client}>
      <LedgerPage />
    </ClientContext.Provider>,
  );
  await screen.findByRole('table', { name: 'Per dataset and agent' });
  return sent;
}

describe('ledger page', () => {
  it('puts the pair with missing records first, highlighted, naming the store; a pair opens its minutes', async () => {
    const sent = await renderLedger();
    const pairs = screen.getAllByRole('row').filter((r) => r.hasAttribute('data-pair'));
    expect(pairs.map((r) => [r.getAttribute('data-pair'), r.className])).toEqual([
      ['meters/gw-lost', 'balance-missing'],
      ['meters/gw-ok', 'balance-balanced'],
    ]);
    expect(within(pairs[0]!).getAllByRole('cell').map((c) => c.textContent)).toEqual(expect.arrayContaining(['20', '17', '20', '3 in PostgreSQL']));
    expect(screen.getByLabelText('Totals').textContent).toContain('Missing3');
    fireEvent.click(within(pairs[0]!).getByRole('button', { name: 'show 2 minutes' }));
    expect(document.querySelectorAll('tr.minute')).toHaveLength(2);
    expect(document.querySelector('tr.minute')?.className).toBe('minute balance-missing');
    // The range is the last hour unless chosen: `from` an hour back, every dataset and agent.
    const asked = new URL(`http://x${sent.find((r) => r.url.startsWith('/api/v1/ledger'))!.url}`);
    expect([...asked.searchParams.keys()]).toEqual(['from']);
  });

  it('hides what balances when asked', async () => {
    await renderLedger();
    fireEvent.click(screen.getByLabelText('only what does not balance'));
    expect(screen.getAllByRole('row').filter((r) => r.hasAttribute('data-pair')).map((r) => r.getAttribute('data-pair'))).toEqual(['meters/gw-lost']);
  });
});
