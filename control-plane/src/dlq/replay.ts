/**
 * The one replay of one DLQ entry, which the single and the bulk replay routes both run: the original bytes
 * and headers go back to the topic the record came from, under its record id as the key, so the consumer
 * takes it again and every store still holds it once. If it fails again it dead-letters again, as a new
 * entry with its new offset.
 *
 * Each replay is recorded (dlq_replays: when, by whom, where the copy landed) and audited, in the
 * transaction that holds the entry's row lock: two replays of one entry take turns, and the second sees
 * the first. An entry replayed before is refused (ConflictError naming the earlier replay) unless forced:
 * a second copy of a record the stores hold is harmless (same id), but one of a record that fails again
 * is a new DLQ entry, so a double click should not make one.
 */
import type pg from 'pg';
import { ConflictError, NotFoundError, UnavailableError } from '@sluice/shared/errors';
import type { OutgoingMessage } from '@sluice/shared/node/kafka';
import type { Principal } from '../auth/principal.ts';
import { withTransaction } from '../db/transaction.ts';
import { actorOfPrincipal, recordAudit } from '../operators/audit.ts';
import { originalHeaders, replayKey, replayView, type DlqRow, type ReplayRow } from './dlq-rows.ts';

export type Operator = Exclude<Principal, { kind: 'agent' }>;

export interface ReplayDeps {
  pool: pg.Pool;
  /** Produces one message and answers where it landed; throws when Kafka is unreachable. */
  produceOne: (message: OutgoingMessage) => Promise<{ topic: string; partition: number; offset: bigint }>;
}

export interface ReplayOrder {
  id: string;
  by: Operator;
  force: boolean;
  requestId?: string | undefined;
}

/** Replays entry `order.id`; answers the entry after it and the replay made. */
export async function replayEntry(deps: ReplayDeps, order: ReplayOrder): Promise<{ row: DlqRow; replay: ReplayRow }> {
  return withTransaction(deps.pool, async (client) => {
    const row = (await client.query<DlqRow>('SELECT * FROM dlq WHERE id = $1 FOR UPDATE', [order.id])).rows[0];
    if (!row) throw NotFoundError(`no DLQ entry ${order.id}`);
    const previous = (await client.query<ReplayRow>('SELECT * FROM dlq_replays WHERE dlq_id = $1 ORDER BY id DESC LIMIT 1', [row.id])).rows[0];
    const before = previous !== undefined || row.replayed_at !== null;
    if (before && !order.force) throw alreadyReplayed(row, previous);
    let landed: { topic: string; partition: number; offset: bigint };
    try {
      landed = await deps.produceOne({ topic: row.topic, key: replayKey(row), value: row.original, headers: originalHeaders(row) });
    } catch (error) {
      throw UnavailableError('Kafka is unreachable; the entry was not replayed', { retryAfterSeconds: 5 }, { cause: error });
    }
    const inserted = await client.query<ReplayRow>(
      `INSERT INTO dlq_replays (dlq_id, key_id, key_name, forced, topic, partition, "offset") VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [row.id, order.by.id, order.by.name, before, landed.topic, landed.partition, landed.offset.toString()],
    );
    const replay = inserted.rows[0]!;
    const updated = (await client.query<DlqRow>('UPDATE dlq SET replayed_at = $2 WHERE id = $1 RETURNING *', [row.id, replay.replayed_at])).rows[0] ?? row;
    await recordAudit(client, {
      actor: actorOfPrincipal(order.by),
      action: 'dlq.replay',
      target: { kind: 'dlqEntry', id: row.id },
      after: { recordId: row.record_id, dataset: row.dataset, forced: before, topic: replay.topic, partition: replay.partition, offset: replay.offset },
      requestId: order.requestId,
    });
    return { row: updated, replay };
  });
}

function alreadyReplayed(row: DlqRow, previous: ReplayRow | undefined): Error {
  const when = (previous?.replayed_at ?? row.replayed_at)!.toISOString();
  const detail = previous ? ` by ${previous.key_name} (key ${previous.key_id}) to ${previous.topic} partition ${previous.partition} offset ${previous.offset}` : '';
  return ConflictError(`DLQ entry ${row.id} was already replayed at ${when}${detail}; send {"force": true} to replay it again`, {
    replayedAt: when,
    ...(previous ? { last: replayView(previous) } : {}),
  });
}
