/**
 * The analytics screen's data: windows of one aggregation over a recent range, the current minute's counters
 * and the dataset's anomalies over the same range. Ranges end "now" when each load runs, so a refresh moves
 * them along.
 */
import {
  getAggregates,
  getCounters,
  listAnomalies,
  type AnomaliesResponse,
  type CountersResponse,
  type WindowFigures,
} from '../../api/analytics.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const AGGREGATES_REFRESH_MS = 15_000;
export const COUNTERS_REFRESH_MS = 5_000;

export interface AggregatesView {
  windows: WindowFigures[];
  truncated: boolean;
  from: string;
  to: string;
}

function range(minutes: number): { from: string; to: string } {
  const to = Date.now();
  return { from: new Date(to - minutes * 60_000).toISOString(), to: new Date(to).toISOString() };
}

export function useAggregates(
  dataset: string,
  aggregation: string,
  minutes: number,
  windowMinutes: number,
): Resource<AggregatesView> {
  const client = useClient();
  return useResource(
    async () => {
      const r = range(minutes);
      if (aggregation === '') return { windows: [], truncated: false, ...r };
      return { ...(await getAggregates(client, dataset, { aggregation, windowMinutes, ...r })), ...r };
    },
    [client, dataset, aggregation, minutes, windowMinutes],
    { refreshMs: AGGREGATES_REFRESH_MS },
  );
}

export function useCounters(dataset: string): Resource<CountersResponse> {
  const client = useClient();
  return useResource(() => getCounters(client, dataset), [client, dataset], {
    refreshMs: COUNTERS_REFRESH_MS,
  });
}

export function useAnomalies(dataset: string, minutes: number): Resource<AnomaliesResponse> {
  const client = useClient();
  return useResource(
    () => {
      const r = range(minutes);
      return listAnomalies(client, dataset, r.from, r.to);
    },
    [client, dataset, minutes],
    { refreshMs: AGGREGATES_REFRESH_MS },
  );
}
