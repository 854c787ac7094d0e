import { describe, expect, it } from 'vitest';
import { ledgerRow } from './ledger-rows.fixture.ts';
import { balanceOf, ledgerPairs, minutesOf, storesOf } from './ledger-view.ts';

const row = ledgerRow;

describe('the ledger per dataset × agent', () => {
  it('sums the minutes of each pair, per store too, and names every store something is missing in', () => {
    const rows = [
      row('gw-a', 'meters', '01', { loaded: { postgres: 10, search: 10 } }),
      row('gw-a', 'meters', '02', { shipped: 12, loaded: { postgres: 9, search: 12 }, loadedEverywhere: 9, deadLettered: 1, missing: 2, missingIn: ['postgres'] }),
      row('gw-a', 'meters', '03', { loaded: { postgres: 10, search: 8 }, loadedEverywhere: 8, missing: 2, missingIn: ['search'] }),
    ];
    expect(ledgerPairs(rows)).toEqual([
      {
        dataset: 'meters',
        agentId: 'gw-a',
        minutes: 3,
        shipped: 32,
        loaded: { postgres: 29, search: 30 },
        loadedEverywhere: 27,
        deadLettered: 1,
        inFlight: 0,
        missing: 4,
        missingIn: ['postgres', 'search'],
        balance: 'missing',
      },
    ]);
  });

  it('puts what is missing first, then what is in flight, then the rest by dataset and agent', () => {
    const pairs = ledgerPairs([
      row('gw-b', 'meters', '01'),
      row('gw-a', 'orders', '01', { settled: false, loadedEverywhere: 7, loaded: { postgres: 7 }, inFlight: 3 }),
      row('gw-a', 'meters', '01'),
      row('gw-c', 'meters', '01', { missing: 1, loadedEverywhere: 9, loaded: { postgres: 9 }, missingIn: ['postgres'] }),
      row('rest', 'meters', '01', { shipped: 0 }),
    ]);
    expect(pairs.map((p) => [p.dataset, p.agentId, p.balance])).toEqual([
      ['meters', 'gw-c', 'missing'],
      ['orders', 'gw-a', 'in-flight'],
      ['meters', 'rest', 'surplus'],
      ['meters', 'gw-a', 'balanced'],
      ['meters', 'gw-b', 'balanced'],
    ]);
  });

  it('counts a dead-lettered record as accounted for', () => {
    expect(balanceOf({ shipped: 5, loadedEverywhere: 4, deadLettered: 1, inFlight: 0, missing: 0 })).toBe('balanced');
  });

  it('shows the store columns any row counts, in the ledger order, and a pair’s minutes newest first', () => {
    const rows = [row('gw-a', 'meters', '01', { loaded: { objectStore: 10 } }), row('gw-a', 'meters', '02', { loaded: { postgres: 10 } }), row('gw-b', 'meters', '03')];
    expect(storesOf(rows)).toEqual(['postgres', 'objectStore']);
    expect(minutesOf(rows, 'meters', 'gw-a').map((r) => r.minute)).toEqual(['2026-12-02T10:02:00.000Z', '2026-12-02T10:01:00.000Z']);
  });
});
