/** The ledger over the last `minutes` (the range moves with each refresh), for one dataset and agent or all. */
import { getLedger, type LedgerResponse } from '../../api/ledger.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const LEDGER_REFRESH_MS = 15_000;

export function useLedger(minutes: number, dataset: string, agent: string): Resource<LedgerResponse> {
  const client = useClient();
  return useResource(
    () => {
      const to = Date.now();
      return getLedger(client, {
        from: new Date(to - minutes * 60_000).toISOString(),
        ...(dataset === '' ? {} : { dataset }),
        ...(agent === '' ? {} : { agent }),
      });
    },
    [client, minutes, dataset, agent],
    { refreshMs: LEDGER_REFRESH_MS },
  );
}
