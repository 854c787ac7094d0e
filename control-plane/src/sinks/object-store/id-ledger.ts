/**
 * The object store's ledger of record ids (table `object_store_ids`): for each (bucket, dataset, record id)
 * the Kafka position (topic, partition, offset) of the record that owns it. PostgreSQL and the search sink
 * drop a record that arrives twice by its id; the object store cannot (a segment is a file), so the sink asks
 * the ledger which of a batch's records another position already owns and leaves those out of the segments.
 *
 * A record's own position never changes: the consumer re-reads a partition from its committed offset, so a
 * replay, however differently cut into batches, meets the ledger rows it wrote before as its own and writes
 * those records again (same keys, same bytes). Only a copy at ANOTHER position (a client retrying with the
 * same Idempotency-Key, an agent re-sending after a restart, a DLQ replay) is left out.
 *
 *   write(batch)
 *     BEGIN ────────── INSERT … ON CONFLICT DO UPDATE RETURNING (all ids, one statement, in id order)
 *       │                 new id → claimed by this position; id of this position → own; other → duplicate
 *       │              a row another open transaction claimed: wait for it (first writer wins; lock_timeout)
 *       ├── put segments without the duplicates (an emptied segment's key is deleted)
 *     COMMIT ───────── only now do the claims exist for anyone else
 *
 * Segment keys come from the batch's cut (object-keys.ts), never from which records are left out, so an
 * attempt that left out more (or fewer) records overwrites the same key as the attempt before it.
 *
 * Crash points (the ledger rows and the segments never disagree in a way that loses a record):
 *   - before COMMIT (after the claim, during or after the put): PostgreSQL rolls the claims back when the
 *     connection drops, so no position owns an id whose segment may never exist. A batch that is then
 *     dead-lettered (the store refused it) and replayed from the DLQ at a new offset is claimed afresh there.
 *     A put that did land is rewritten by the replay from the committed offset, which claims again.
 *   - put done, COMMIT lost: the segment holds records nobody owns yet. If a copy at another offset claims
 *     one meanwhile and writes it, the replay of this batch finds it owned by that copy and rewrites the
 *     same key without it: once again. (Left alone only if the replay never reaches this sink at all.)
 *   - after COMMIT, before the consumer commits its offsets: the replay finds its own rows and rewrites
 *     the same objects.
 *   - two batches holding one id (different partitions, or two batches in flight): the second claimer
 *     waits on the first's row lock; a commit makes the id the first's, a rollback hands it to the second.
 *     Ids are claimed in id order so two such batches cannot deadlock on each other.
 *   - two copies in one batch: the earlier one claims, unless the ledger already names the later one (a
 *     replay joined two batches that were in flight and the later one claimed first): that one is written.
 *
 * Retention: rows older than `retentionMs` (default 7 days) are deleted by `prune`, which the sink runs
 * every `pruneIntervalMs` in chunks, for at most `pruneBudgetMs`. A copy arriving after its original's row
 * is gone is stored again, in its own segment.
 */
import type pg from 'pg';
import type { Logger } from '@sluice/shared/node/logger';
import type { SinkRecord } from '../sink.ts';

export interface IdLedgerOptions {
  /** Connections whose search_path is the control plane's state schema (see db/pool.ts). */
  pool: pg.Pool;
  logger: Logger;
  /** How long a claimed id keeps later copies out. Default 7 days. */
  retentionMs?: number;
  pruneIntervalMs?: number;
  /** A prune run stops after this long even if old rows remain; the next run goes on. */
  pruneBudgetMs?: number;
  pruneChunk?: number;
  /** How long a claim waits for another batch holding one of its ids. Default 30 s, then the write is retried. */
  lockTimeoutMs?: number;
  /** Ends the pool on close (the ledger made it). */
  ownsPool?: boolean;
}

/** The ledger could not be asked (PostgreSQL down, a lock wait timed out): the write is retried. */
export class LedgerUnavailableError extends Error {
  override readonly name = 'LedgerUnavailableError';
}

export const DEFAULT_DEDUPE_WINDOW_MS = 7 * 24 * 3600 * 1000;

// Only the duplicates come back: in the common case (nothing seen before) the answer is empty.
const CLAIM = `
WITH input AS (SELECT * FROM unnest($5::text[], $6::bigint[], $7::text[], $8::timestamptz[]) AS t(id, off, agent, minute)),
claimed AS (
  INSERT INTO object_store_ids AS l (store, dataset, record_id, topic, partition, "offset", agent_id, ingest_minute)
  SELECT $1, $2, id, $3, $4, off, agent, minute FROM input ORDER BY id
  ON CONFLICT (store, dataset, record_id) DO UPDATE SET claimed_at = l.claimed_at
  RETURNING l.record_id, l.topic, l.partition, l."offset"
)
SELECT c.record_id, c.topic, c.partition, c."offset"::text AS offset FROM claimed c JOIN input i ON i.id = c.record_id
WHERE (c.topic, c.partition, c."offset") IS DISTINCT FROM ($3::text, $4::int, i.off)`;

const PRUNE = `
DELETE FROM object_store_ids WHERE (store, dataset, record_id) IN (
  SELECT store, dataset, record_id FROM object_store_ids
  WHERE claimed_at < now() - make_interval(secs => $1::double precision / 1000)
  ORDER BY claimed_at LIMIT $2 FOR UPDATE SKIP LOCKED)`;

export class IdLedger {
  readonly #o: IdLedgerOptions;
  readonly #retentionMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: IdLedgerOptions) {
    this.#o = options;
    this.#retentionMs = options.retentionMs ?? DEFAULT_DEDUPE_WINDOW_MS;
  }

  /**
   * Claims the records' ids for their positions and runs `write` with the records to leave out (another
   * position owns the id, or another record of this batch holds it), inside the transaction that holds the claims; commits once
   * `write` resolved. `write`'s own errors are rethrown as they are; the ledger's are LedgerUnavailableError.
   */
  async withClaims<T>(store: string, dataset: string, records: readonly SinkRecord[], write: (duplicates: ReadonlySet<SinkRecord>) => Promise<T>): Promise<T> {
    this.#startPruning();
    const duplicates = new Set<SinkRecord>();
    const first = new Map<string, SinkRecord>();
    for (const r of records) {
      // Offset order: the earlier copy of an id inside one batch owns it, as it would across batches.
      if (first.has(r.envelope.id)) duplicates.add(r);
      else first.set(r.envelope.id, r);
    }
    if (first.size === 0) return write(duplicates);
    const { topic, partition } = records[0]!;
    const ids: string[] = [];
    const offsets: string[] = [];
    // Who shipped each record and in which minute of its ingest time: the ledger counts the store's records so.
    const agents: string[] = [];
    const minutes: Array<string | null> = [];
    for (const [id, r] of first) {
      ids.push(id);
      offsets.push(r.offset.toString());
      agents.push(r.envelope.agentId);
      minutes.push(wholeMinute(r.envelope.ingestTime));
    }
    let client: pg.PoolClient;
    try {
      client = await this.#o.pool.connect();
    } catch (error) {
      throw new LedgerUnavailableError(`object-store id ledger: ${(error as Error).message}`, { cause: error });
    }
    // PostgreSQL going away while the segment uploads surfaces on the next query; until then the client's
    // 'error' event must not become an uncaught exception.
    const onError = (): void => undefined;
    client.on('error', onError);
    let open = false;
    try {
      try {
        // One round trip: the statements of a simple query run in order.
        await client.query(`BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.round(this.#o.lockTimeoutMs ?? 30_000))}`);
        open = true;
        const owned = await client.query<{ record_id: string; topic: string; partition: number; offset: string }>(CLAIM, [store, dataset, topic, partition, ids, offsets, agents, minutes]);
        let byOffset: Map<string, SinkRecord> | undefined;
        for (const row of owned.rows) {
          duplicates.add(first.get(row.record_id)!);
          if (row.topic !== topic || row.partition !== partition) continue;
          // The owner may be a later copy in this very batch (a replay joined two batches that were in
          // flight, and the later one claimed first): that copy is the one to write.
          byOffset ??= new Map(records.map((r) => [r.offset.toString(), r]));
          const owner = byOffset.get(row.offset);
          if (owner?.envelope.id === row.record_id) duplicates.delete(owner);
        }
      } catch (error) {
        throw new LedgerUnavailableError(`object-store id ledger: claiming ${ids.length} id(s): ${(error as Error).message}`, { cause: error });
      }
      const result = await write(duplicates);
      try {
        await client.query('COMMIT');
        open = false;
      } catch (error) {
        throw new LedgerUnavailableError(`object-store id ledger: committing ${ids.length} claim(s): ${(error as Error).message}`, { cause: error });
      }
      if (duplicates.size > 0) this.#o.logger.info({ dataset, duplicates: duplicates.size, topic, partition }, 'left records another position already stored out of the segments');
      return result;
    } finally {
      // A connection that cannot even roll back is dropped, not handed to the next claim.
      const clean = !open || (await client.query('ROLLBACK').then(() => true, () => false));
      client.off('error', onError);
      client.release(!clean);
    }
  }

  /** Deletes rows older than the retention window, a chunk at a time, for at most the time budget. */
  async prune(): Promise<number> {
    const budget = this.#o.pruneBudgetMs ?? 2_000;
    const chunk = this.#o.pruneChunk ?? 5_000;
    const started = Date.now();
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.#o.pool.query(PRUNE, [this.#retentionMs, chunk]);
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < chunk || Date.now() - started >= budget || this.#closed) break;
    }
    if (deleted > 0) this.#o.logger.info({ deleted, retentionMs: this.#retentionMs }, 'object-store id ledger: expired ids deleted');
    return deleted;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#o.ownsPool) await this.#o.pool.end();
  }

  /** Started by the first write, so a process that only serves the API runs no prune job. */
  #startPruning(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      this.prune().catch((error: unknown) => this.#o.logger.warn({ err: (error as Error).message }, 'object-store id ledger: prune failed; next run retries'));
    }, this.#o.pruneIntervalMs ?? 10 * 60_000);
    this.#timer.unref();
  }
}

/** The whole minute of an ISO time, or null for what is no date (the claim must not fail on it). */
function wholeMinute(time: string): string | null {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? null : new Date(Math.floor(ms / 60_000) * 60_000).toISOString();
}
