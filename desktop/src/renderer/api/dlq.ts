/** /api/v1/dlq, typed from its schemas (shared/src/api/dlq.ts, dlq-bulk.ts). */
import type { DlqCountsResponse, DlqEntryDetailResponse, DlqEntryView, DlqListResponse, DlqReplayResponse, ReasonKind } from '@sluice/shared/api/dlq';
import type { DlqBulkReplayBody, DlqBulkReplayResponse, DlqDryRunBody, DlqDryRunResponse, DlqFilter } from '@sluice/shared/api/dlq-bulk';
import type { ApiClient } from './client.ts';

export type { DlqBulkReplayResponse, DlqCountsResponse, DlqDryRunBody, DlqDryRunResponse, DlqEntryDetailResponse, DlqEntryView, DlqFilter, DlqListResponse, DlqReplayResponse, ReasonKind };
export { REASON_KINDS } from '@sluice/shared/api/dlq';

/** One page of entries matching `filter`, newest first; `before` (an id) pages on. */
export function listDlq(client: ApiClient, filter: DlqFilter, page: { limit: number; before?: string | undefined }): Promise<DlqListResponse> {
  return client.get<DlqListResponse>('/api/v1/dlq', { ...filter, ...page });
}

export function getDlqCounts(client: ApiClient, filter: Pick<DlqFilter, 'dataset' | 'since' | 'until'>): Promise<DlqCountsResponse> {
  return client.get<DlqCountsResponse>('/api/v1/dlq/counts', filter);
}

export function getDlqEntry(client: ApiClient, id: string): Promise<DlqEntryDetailResponse> {
  return client.get<DlqEntryDetailResponse>(`/api/v1/dlq/${encodeURIComponent(id)}`);
}

export function dryRunDlq(client: ApiClient, body: DlqDryRunBody): Promise<DlqDryRunResponse> {
  return client.post<DlqDryRunResponse>('/api/v1/dlq/dry-run', body);
}

/** Replays one entry; one replayed before answers ConflictError unless `force`. */
export function replayDlqEntry(client: ApiClient, id: string, force: boolean): Promise<DlqReplayResponse> {
  return client.post<DlqReplayResponse>(`/api/v1/dlq/${encodeURIComponent(id)}/replay`, force ? { force: true } : {});
}

export function replayDlq(client: ApiClient, body: DlqBulkReplayBody): Promise<DlqBulkReplayResponse> {
  return client.post<DlqBulkReplayResponse>('/api/v1/dlq/replay', body);
}

export interface ReplayProgress {
  replayed: number;
  skipped: Array<{ id: string; reason: string }>;
  /** Entries of the run still to replay. */
  remaining: number;
}

/** Entries per request of a filter's replay: each request stays short, the run goes on until none remain. */
export const REPLAY_BATCH = 200;
/** A run ends after this many requests even if the server still says some remain (it never should). */
const MAX_ROUNDS = 10_000;

/**
 * Replays every never-replayed entry of `filter`, REPLAY_BATCH per request, as one run: the first answer's
 * `through` bounds the rest, so records that fail again meanwhile (new entries) are not replayed again.
 */
export async function replayFilter(client: ApiClient, filter: DlqFilter, onProgress?: (progress: ReplayProgress) => void): Promise<ReplayProgress> {
  const progress: ReplayProgress = { replayed: 0, skipped: [], remaining: 0 };
  let through: string | undefined;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const answer = await replayDlq(client, { filter, limit: REPLAY_BATCH, ...(through === undefined ? {} : { through }) });
    progress.replayed += answer.replayed.length;
    progress.skipped.push(...answer.skipped);
    progress.remaining = answer.remaining;
    onProgress?.({ ...progress, skipped: [...progress.skipped] });
    if (answer.through === null || answer.remaining === 0 || answer.replayed.length + answer.skipped.length === 0) break;
    through = answer.through;
  }
  return progress;
}
