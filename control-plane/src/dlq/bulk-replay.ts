/**
 * Replays many DLQ entries, each by the one replay (replay.ts) in its own transaction, oldest first, so
 * each record is sent once and every replay is recorded the same way as a single one.
 *
 *   ids     each named entry; one replayed before is skipped (with why) unless `force`
 *   filter  up to `limit` entries of the filter that were never replayed, up to the newest entry of the
 *           filter when the run began (`through`); `remaining` says how many are left, and the same request
 *           with that `through` goes on with them. Nothing is sent twice (a replayed entry no longer
 *           matches), and a record that fails again (a new entry, after `through`) is not replayed again
 *           in the same run, which would otherwise loop for as long as it keeps failing.
 *
 * Bounded per request (at most DLQ_REPLAY_MAX entries), so a request's time stays in seconds. Kafka
 * unreachable ends the request with 503 at the entry it reached; the entries replayed before it stay
 * replayed and recorded, so sending the request again is safe.
 */
import type { DlqBulkReplayResponse } from '@sluice/shared/api/dlq-bulk';
import { InputError, isSluiceError } from '@sluice/shared/errors';
import { replayView } from './dlq-rows.ts';
import { whereOf, type DlqSelection } from './dlq-selection.ts';
import { replayEntry, type Operator, type ReplayDeps } from './replay.ts';

export interface BulkReplayOrder {
  selection: DlqSelection;
  limit: number;
  force: boolean;
  /** With a filter: the newest entry of the run (the first answer's `through`). */
  through?: string | undefined;
  by: Operator;
  requestId?: string | undefined;
}

export async function replayMany(deps: ReplayDeps, order: BulkReplayOrder): Promise<DlqBulkReplayResponse> {
  const { selection } = order;
  if ('ids' in selection) {
    const answer = await replayEach(deps, order, [...selection.ids].sort(byNumber));
    return { ...answer, remaining: 0, through: null };
  }
  if (order.force) throw InputError('force replays entries replayed before; it needs chosen ids, not a filter');
  const through = order.through ?? (await newest(deps, selection));
  if (through === null) return { replayed: [], skipped: [], remaining: 0, through: null };
  const answer = await replayEach(deps, order, await unreplayed(deps, selection, through, order.limit));
  return { ...answer, remaining: await countUnreplayed(deps, selection, through), through };
}

async function replayEach(deps: ReplayDeps, order: BulkReplayOrder, ids: readonly string[]): Promise<Pick<DlqBulkReplayResponse, 'replayed' | 'skipped'>> {
  const answer: Pick<DlqBulkReplayResponse, 'replayed' | 'skipped'> = { replayed: [], skipped: [] };
  for (const id of ids) {
    try {
      const { row, replay } = await replayEntry(deps, { id, by: order.by, force: order.force, requestId: order.requestId });
      answer.replayed.push({ id, recordId: row.record_id, replay: replayView(replay) });
    } catch (error) {
      // Replayed meanwhile (by another request), or gone: said per entry. Anything else ends the request.
      if (!isSluiceError(error, 'ConflictError') && !isSluiceError(error, 'NotFoundError')) throw error;
      answer.skipped.push({ id, reason: error.message });
    }
  }
  return answer;
}

const byNumber = (a: string, b: string): number => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

async function newest(deps: ReplayDeps, selection: DlqSelection): Promise<string | null> {
  const params: unknown[] = [];
  const found = await deps.pool.query<{ id: string | null }>(`SELECT max(id) AS id FROM dlq WHERE ${whereOf(selection, params)}`, params);
  return found.rows[0]?.id ?? null;
}

/** The filter's never-replayed entries up to `through`, as a condition; its values go to `params`. */
function unreplayedWhere(selection: DlqSelection, through: string, params: unknown[]): string {
  const where = whereOf(selection, params);
  params.push(through);
  return `${where} AND replayed_at IS NULL AND id <= $${params.length}::bigint`;
}

async function unreplayed(deps: ReplayDeps, selection: DlqSelection, through: string, limit: number): Promise<string[]> {
  const params: unknown[] = [];
  const where = unreplayedWhere(selection, through, params);
  params.push(limit);
  const found = await deps.pool.query<{ id: string }>(`SELECT id FROM dlq WHERE ${where} ORDER BY id LIMIT $${params.length}`, params);
  return found.rows.map((r) => r.id);
}

async function countUnreplayed(deps: ReplayDeps, selection: DlqSelection, through: string): Promise<number> {
  const params: unknown[] = [];
  const found = await deps.pool.query<{ n: string }>(`SELECT count(*) AS n FROM dlq WHERE ${unreplayedWhere(selection, through, params)}`, params);
  return Number(found.rows[0]?.n ?? 0);
}
