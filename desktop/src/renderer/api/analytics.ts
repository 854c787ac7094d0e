/** /api/v1/analytics/:dataset/{aggregates,counters,anomalies}, typed from their schemas (shared/src/api/analytics.ts). */
import type { AggregatesResponse, AnomaliesResponse, AnomalyItem, CountersResponse } from '@sluice/shared/api/analytics';
import type { ApiClient } from './client.ts';

export type { AggregatesResponse, AnomaliesResponse, AnomalyItem, CountersResponse };
export type WindowFigures = AggregatesResponse['windows'][number];

const analyticsPath = (dataset: string, what: string) => `/api/v1/analytics/${encodeURIComponent(dataset)}/${what}`;

/** Pages a chart may fetch for one view: beyond them it draws what it has and says so. */
export const MAX_AGGREGATE_PAGES = 5;

export interface AggregatesRequest {
  aggregation: string;
  from: string;
  to: string;
  windowMinutes: number;
  group?: string;
}

/** Every window of [from, to) (up to MAX_AGGREGATE_PAGES pages of 1000), and whether some were left out. */
export async function getAggregates(client: ApiClient, dataset: string, request: AggregatesRequest): Promise<{ windows: WindowFigures[]; truncated: boolean }> {
  const windows: WindowFigures[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_AGGREGATE_PAGES; page++) {
    const answer = await client.get<AggregatesResponse>(analyticsPath(dataset, 'aggregates'), { ...request, limit: 1000, cursor });
    windows.push(...answer.windows);
    cursor = answer.nextCursor;
    if (cursor === undefined) return { windows, truncated: false };
  }
  return { windows, truncated: true };
}

export function getCounters(client: ApiClient, dataset: string): Promise<CountersResponse> {
  return client.get<CountersResponse>(analyticsPath(dataset, 'counters'));
}

export function listAnomalies(client: ApiClient, dataset: string, from: string, to: string): Promise<AnomaliesResponse> {
  return client.get<AnomaliesResponse>(analyticsPath(dataset, 'anomalies'), { from, to, limit: 200 });
}
