/** GET /api/v1/ledger, typed from its schemas (shared/src/api/ledger.ts). */
import type { LedgerQuery, LedgerResponse, LedgerRow, LedgerStore } from '@sluice/shared/api/ledger';
import type { ApiClient } from './client.ts';

export type { LedgerQuery, LedgerResponse, LedgerRow, LedgerStore };
export { LEDGER_MAX_RANGE_HOURS, LEDGER_STORES } from '@sluice/shared/api/ledger';

export function getLedger(client: ApiClient, query: LedgerQuery): Promise<LedgerResponse> {
  return client.get<LedgerResponse>('/api/v1/ledger', query);
}
