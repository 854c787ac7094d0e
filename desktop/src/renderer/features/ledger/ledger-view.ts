/**
 * The ledger's minutes summed per dataset × agent over the chosen range, as the ledger screen shows them:
 * what the agent shipped, what each store holds, what was dead-lettered, and what is still on its way or
 * missing. A pair with anything missing comes first.
 */
import { LEDGER_STORES, type LedgerRow, type LedgerStore } from '../../api/ledger.ts';

/** missing: settled minutes short of records; in-flight: recent ones still arriving; surplus: more loaded than shipped (another path, or a report not in yet). */
export type Balance = 'missing' | 'in-flight' | 'balanced' | 'surplus';

export interface LedgerPair {
  dataset: string;
  agentId: string;
  minutes: number;
  shipped: number;
  loaded: Partial<Record<LedgerStore, number>>;
  loadedEverywhere: number;
  deadLettered: number;
  inFlight: number;
  missing: number;
  missingIn: LedgerStore[];
  balance: Balance;
}

export function balanceOf(p: Pick<LedgerPair, 'missing' | 'inFlight' | 'shipped' | 'loadedEverywhere' | 'deadLettered'>): Balance {
  if (p.missing > 0) return 'missing';
  if (p.inFlight > 0) return 'in-flight';
  return p.loadedEverywhere + p.deadLettered > p.shipped ? 'surplus' : 'balanced';
}

const RANK: Record<Balance, number> = { missing: 0, 'in-flight': 1, surplus: 2, balanced: 3 };

export function ledgerPairs(rows: readonly LedgerRow[]): LedgerPair[] {
  const pairs = new Map<string, LedgerPair>();
  for (const row of rows) {
    const key = `${row.dataset}\u0000${row.agentId}`;
    let pair = pairs.get(key);
    if (!pair) {
      pair = { dataset: row.dataset, agentId: row.agentId, minutes: 0, shipped: 0, loaded: {}, loadedEverywhere: 0, deadLettered: 0, inFlight: 0, missing: 0, missingIn: [], balance: 'balanced' };
      pairs.set(key, pair);
    }
    pair.minutes += 1;
    pair.shipped += row.shipped;
    for (const store of LEDGER_STORES) {
      const n = row.loaded[store];
      if (n !== undefined) pair.loaded[store] = (pair.loaded[store] ?? 0) + n;
    }
    pair.loadedEverywhere += row.loadedEverywhere;
    pair.deadLettered += row.deadLettered;
    pair.inFlight += row.inFlight;
    pair.missing += row.missing;
    for (const store of row.missingIn) if (!pair.missingIn.includes(store)) pair.missingIn.push(store);
  }
  const all = [...pairs.values()].map((p) => ({ ...p, missingIn: LEDGER_STORES.filter((s) => p.missingIn.includes(s)), balance: balanceOf(p) }));
  return all.sort((a, b) => RANK[a.balance] - RANK[b.balance] || b.missing - a.missing || a.dataset.localeCompare(b.dataset) || a.agentId.localeCompare(b.agentId));
}

/** The stores any row counts, in the ledger's order: the table's store columns. */
export function storesOf(rows: readonly LedgerRow[]): LedgerStore[] {
  return LEDGER_STORES.filter((store) => rows.some((r) => r.loaded[store] !== undefined));
}

/** One pair's minutes, newest first. */
export function minutesOf(rows: readonly LedgerRow[], dataset: string, agentId: string): LedgerRow[] {
  return rows.filter((r) => r.dataset === dataset && r.agentId === agentId).sort((a, b) => Date.parse(b.minute) - Date.parse(a.minute));
}

export const STORE_LABELS: Record<LedgerStore, string> = { postgres: 'PostgreSQL', search: 'Search', objectStore: 'Object store' };
