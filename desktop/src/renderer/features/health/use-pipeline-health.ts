/**
 * Pipeline health over the last `minutes`, refreshed every 15 s, with the consumer-lag snapshots of every
 * answer kept as a series while the page is open; and the rollouts to draw on the charts.
 */
import { useEffect, useState } from 'react';
import { getPipelineHealth, listRollouts, type PipelineHealthReport, type RolloutView } from '../../api/pipeline.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';
import { addLagSamples, type LagSample } from './health-series.ts';

export const HEALTH_REFRESH_MS = 15_000;

export function usePipelineHealth(minutes: number): Resource<PipelineHealthReport> & { lag: ReadonlyMap<string, readonly LagSample[]> } {
  const client = useClient();
  const report = useResource(() => getPipelineHealth(client, minutes), [client, minutes], { refreshMs: HEALTH_REFRESH_MS });
  const [lag, setLag] = useState<ReadonlyMap<string, readonly LagSample[]>>(new Map());
  useEffect(() => {
    if (report.data !== undefined) setLag((seen) => addLagSamples(seen, report.data!));
  }, [report.data]);
  return { ...report, lag };
}

export function useRollouts(): Resource<RolloutView[]> {
  const client = useClient();
  return useResource(() => listRollouts(client), [client], { refreshMs: HEALTH_REFRESH_MS });
}
