/** For the ledger's tests: a settled, balanced minute of 10 records in PostgreSQL, changed by `extra`. */
import type { LedgerRow } from '../../api/ledger.ts';

export function ledgerRow(agentId: string, dataset: string, minute: string, extra: Partial<LedgerRow> = {}): LedgerRow {
  return {
    agentId,
    dataset,
    minute: `2026-12-02T10:${minute}:00.000Z`,
    settled: true,
    shipped: 10,
    loaded: { postgres: 10 },
    loadedEverywhere: 10,
    deadLettered: 0,
    inFlight: 0,
    missing: 0,
    missingIn: [],
    ...extra,
  };
}
