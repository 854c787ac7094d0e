/** The DLQ screens' data: entries of a filter (newest first, growing by pages), counts by reason, one entry. */
import { getDlqCounts, getDlqEntry, listDlq, type DlqCountsResponse, type DlqEntryDetailResponse, type DlqFilter, type DlqListResponse } from '../../api/dlq.ts';
import { useResource, type Resource } from '../../api/use-resource.ts';
import { useClient } from '../../app/client-context.ts';

export const DLQ_REFRESH_MS = 15_000;
export const PAGE_SIZE = 50;
/** The most the list route answers at once; past it the screen asks for a narrower filter. */
export const MAX_SHOWN = 500;

/** `pages` pages of the newest entries (re-read whole on refresh, so a replay's new state shows). */
export function useDlqEntries(filter: DlqFilter, pages: number): Resource<DlqListResponse> {
  const client = useClient();
  const limit = Math.min(MAX_SHOWN, PAGE_SIZE * pages);
  const key = JSON.stringify(filter);
  return useResource(() => listDlq(client, filter, { limit }), [client, key, limit], { refreshMs: DLQ_REFRESH_MS });
}

export function useDlqCounts(filter: Pick<DlqFilter, 'dataset' | 'since'>): Resource<DlqCountsResponse> {
  const client = useClient();
  const key = JSON.stringify(filter);
  return useResource(() => getDlqCounts(client, filter), [client, key], { refreshMs: DLQ_REFRESH_MS });
}

export function useDlqEntry(id: string): Resource<DlqEntryDetailResponse> {
  const client = useClient();
  return useResource(() => getDlqEntry(client, id), [client, id]);
}
