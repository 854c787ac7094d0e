/**
 * How the ledger counts what each store holds, per agent and minute of the records' ingest time, asking the
 * store itself (not the consumer's counters), so a record deleted behind the control plane's back shows up
 * as missing:
 *
 *   postgres     count(*) on the dataset's table, by agent_id and date_trunc('minute', ingest_time)
 *                (index (ingest_time, agent_id), made by the sink when it prepares the table)
 *   search       a composite aggregation agentId × 1-minute date_histogram(ingestTime) on `<prefix>-*`
 *   objectStore  the object store's id ledger (object_store_ids, one row per stored record); an object
 *                deleted from the bucket behind the sink's back is NOT seen here
 *
 * A store that cannot be counted (unreachable, no id ledger, ids pruned) says why instead of answering 0.
 */
import type pg from 'pg';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { storeLocations } from '@sluice/shared/dataset-locations';
import type { LedgerStore } from '@sluice/shared/api/ledger';
import type { ControlPlaneConfig } from '../config.ts';
import { searchSinkConfig } from '../sinks/registry.ts';
import { quoteIdent } from '../sinks/postgres/columns.ts';
import { sqlState } from '../sinks/postgres/pg-errors.ts';

export interface LedgerRange {
  from: Date;
  to: Date;
  agent?: string | undefined;
}

export interface StoreCount {
  agentId: string;
  /** Epoch ms of the whole minute. */
  minute: number;
  count: number;
}

export type StoreCountResult = { counts: StoreCount[] } | { uncounted: string };

export interface StoreCounter {
  count(spec: DatasetSpec, location: string, range: LedgerRange, maxRows: number): Promise<StoreCountResult>;
}

export type StoreCounters = { [K in LedgerStore]: StoreCounter };

/** More rows than the caller takes: it refuses the request instead of answering part of it. */
export class TooManyLedgerRows extends Error {}

export class PostgresCounter implements StoreCounter {
  readonly #pool: pg.Pool;
  readonly #schema: string;

  constructor(pool: pg.Pool, dataSchema: string) {
    this.#pool = pool;
    this.#schema = dataSchema;
  }

  async count(_spec: DatasetSpec, table: string, range: LedgerRange, maxRows: number): Promise<StoreCountResult> {
    const params: unknown[] = [range.from, range.to, maxRows + 1];
    if (range.agent !== undefined) params.push(range.agent);
    try {
      const result = await this.#pool.query<{ agent_id: string; minute: Date; n: string }>(
        `SELECT agent_id, date_trunc('minute', ingest_time) AS minute, count(*) AS n FROM ${quoteIdent(this.#schema)}.${quoteIdent(table)}
         WHERE ingest_time >= $1 AND ingest_time < $2 ${range.agent === undefined ? '' : 'AND agent_id = $4'} GROUP BY 1, 2 LIMIT $3`,
        params,
      );
      if (result.rows.length > maxRows) throw new TooManyLedgerRows();
      return { counts: result.rows.map((r) => ({ agentId: r.agent_id, minute: r.minute.getTime(), count: Number(r.n) })) };
    } catch (error) {
      // No table yet: the sink has not written a record of this dataset, so it holds none.
      if (sqlState(error) === '42P01') return { counts: [] };
      if (error instanceof TooManyLedgerRows) throw error;
      return { uncounted: `postgres: ${(error as Error).message}` };
    }
  }
}

interface CompositeAnswer {
  aggregations?: { ledger?: { after_key?: Record<string, unknown>; buckets: Array<{ key: { agent: string; minute: number }; doc_count: number }> } };
}

export class SearchCounter implements StoreCounter {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(config: ControlPlaneConfig, timeoutMs = 10_000) {
    const { url, username, password, apiKey } = searchSinkConfig(config);
    this.#base = url.replace(/\/+$/, '');
    this.#headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (apiKey) this.#headers.authorization = `ApiKey ${apiKey}`;
    else if (username !== undefined) this.#headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    this.#timeoutMs = timeoutMs;
  }

  async count(_spec: DatasetSpec, prefix: string, range: LedgerRange, maxRows: number): Promise<StoreCountResult> {
    const filter: unknown[] = [{ range: { ingestTime: { gte: range.from.toISOString(), lt: range.to.toISOString() } } }];
    if (range.agent !== undefined) filter.push({ term: { agentId: range.agent } });
    const counts: StoreCount[] = [];
    let after: Record<string, unknown> | undefined;
    try {
      for (;;) {
        const body = {
          size: 0,
          query: { bool: { filter } },
          aggs: {
            ledger: {
              composite: {
                size: 1000,
                sources: [{ agent: { terms: { field: 'agentId' } } }, { minute: { date_histogram: { field: 'ingestTime', fixed_interval: '1m' } } }],
                ...(after === undefined ? {} : { after }),
              },
            },
          },
        };
        const response = await fetch(`${this.#base}/${encodeURIComponent(prefix)}-*/_search?ignore_unavailable=true&allow_no_indices=true`, {
          method: 'POST',
          headers: this.#headers,
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.#timeoutMs),
        });
        if (!response.ok) return { uncounted: `search: HTTP ${response.status} ${(await response.text()).slice(0, 300)}` };
        const answer = (await response.json()) as CompositeAnswer;
        const page = answer.aggregations?.ledger;
        for (const b of page?.buckets ?? []) counts.push({ agentId: b.key.agent, minute: b.key.minute, count: b.doc_count });
        if (counts.length > maxRows) throw new TooManyLedgerRows();
        if (!page?.after_key || page.buckets.length === 0) return { counts };
        after = page.after_key;
      }
    } catch (error) {
      if (error instanceof TooManyLedgerRows) throw error;
      const cause = (error as { cause?: { code?: string } }).cause;
      return { uncounted: `search: ${cause?.code ?? (error as Error).message}` };
    }
  }
}

export class ObjectStoreCounter implements StoreCounter {
  readonly #pool: pg.Pool;
  readonly #bucket: string;
  readonly #dedupeWindowMs: number;

  /** `pool` resolves names in the state schema, where the id ledger lives. */
  constructor(pool: pg.Pool, bucket: string, dedupeWindowMs: number) {
    this.#pool = pool;
    this.#bucket = bucket;
    this.#dedupeWindowMs = dedupeWindowMs;
  }

  async count(spec: DatasetSpec, _prefix: string, range: LedgerRange, maxRows: number): Promise<StoreCountResult> {
    if (this.#dedupeWindowMs <= 0) return { uncounted: 'objectStore: the object store keeps no id ledger (SLUICE_S3_DEDUPE_WINDOW_HOURS=0), so its records cannot be counted' };
    if (range.from.getTime() < Date.now() - this.#dedupeWindowMs) {
      return { uncounted: `objectStore: the id ledger keeps ids for ${Math.round(this.#dedupeWindowMs / 3_600_000)} h; older minutes cannot be counted` };
    }
    const params: unknown[] = [this.#bucket, spec.name, range.from, range.to, maxRows + 1];
    if (range.agent !== undefined) params.push(range.agent);
    try {
      const result = await this.#pool.query<{ agent_id: string; minute: Date; n: string }>(
        `SELECT agent_id, ingest_minute AS minute, count(*) AS n FROM object_store_ids
         WHERE store = $1 AND dataset = $2 AND ingest_minute >= $3 AND ingest_minute < $4 ${range.agent === undefined ? '' : 'AND agent_id = $6'}
         GROUP BY 1, 2 LIMIT $5`,
        params,
      );
      if (result.rows.length > maxRows) throw new TooManyLedgerRows();
      return { counts: result.rows.map((r) => ({ agentId: r.agent_id, minute: r.minute.getTime(), count: Number(r.n) })) };
    } catch (error) {
      if (error instanceof TooManyLedgerRows) throw error;
      return { uncounted: `objectStore: ${(error as Error).message}` };
    }
  }
}

/** The counters for a control plane's stores, from its config (the same settings its sinks use). */
export function storeCounters(config: ControlPlaneConfig, pool: pg.Pool): StoreCounters {
  return {
    postgres: new PostgresCounter(pool, config.dataSchema),
    search: new SearchCounter(config),
    objectStore: new ObjectStoreCounter(pool, config.s3.bucket, config.s3.dedupeWindowMs),
  };
}

/** The stores a dataset enables and where its records are in each. */
export function countedStores(spec: DatasetSpec): Array<{ store: LedgerStore; location: string }> {
  return storeLocations(spec).map(({ store, location }) => ({ store, location }));
}
