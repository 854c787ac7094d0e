/**
 * The ledger: per agent × dataset × minute of the records' ingest time, what the agent shipped (ledger_edge,
 * reported in check-ins) against what each store of the dataset holds (ledger-stores.ts, counted in the
 * stores themselves) and what was dead-lettered (dlq rows not replayed, distinct records). Per row:
 *
 *   loadedEverywhere = min over the dataset's counted stores      (a record is loaded once every store holds it)
 *   remainder        = max(0, shipped - loadedEverywhere - deadLettered)
 *   minute ended < settleSeconds ago ─► inFlight = remainder     (on its way: outbox → Kafka → consumer)
 *   otherwise ───────────────────────► missing  = remainder      (shipped, and neither stored nor dead-lettered)
 *
 * A dataset whose enabled stores could none be counted reports no remainder (it cannot tell) and is listed
 * in `uncounted`; records of a dataset that does not exist are all dead-lettered (unknown dataset), so for
 * those the remainder counts as usual.
 */
import type pg from 'pg';
import type { DatasetSpec } from '@sluice/shared/dataset';
import { InputError } from '@sluice/shared/errors';
import { LEDGER_MAX_RANGE_HOURS, type LedgerQuery, type LedgerResponse, type LedgerRow, type LedgerStore } from '@sluice/shared/api/ledger';
import { countedStores, TooManyLedgerRows, type LedgerRange, type StoreCounters } from './ledger-stores.ts';

export interface LedgerOptions {
  pool: pg.Pool;
  counters: StoreCounters;
  /** How long after a minute ends its records may still be on their way (SLUICE_LEDGER_SETTLE_SECONDS). */
  settleSeconds: number;
  /** Rows one answer may hold; more is refused with a hint to narrow the request. Default 20,000. */
  maxRows?: number;
  now?: () => number;
}

const MINUTE = 60_000;

interface Cell {
  agentId: string;
  dataset: string;
  minute: number;
  shipped: number;
  deadLettered: number;
  loaded: Partial<Record<LedgerStore, number>>;
}

export class LedgerService {
  readonly #o: LedgerOptions;
  readonly #maxRows: number;

  constructor(options: LedgerOptions) {
    this.#o = options;
    this.#maxRows = options.maxRows ?? 20_000;
  }

  async query(q: LedgerQuery): Promise<LedgerResponse> {
    const now = this.#o.now?.() ?? Date.now();
    const range = rangeOf(q, now);
    const { pool } = this.#o;
    const filters = (first: number): { sql: string; params: unknown[] } => {
      const parts: string[] = [];
      const params: unknown[] = [];
      if (q.agent !== undefined) parts.push(`agent_id = $${first + params.push(q.agent) - 1}`);
      if (q.dataset !== undefined) parts.push(`dataset = $${first + params.push(q.dataset) - 1}`);
      return { sql: parts.map((p) => ` AND ${p}`).join(''), params };
    };
    const edge = filters(4);
    const dead = filters(4);
    const limit = this.#maxRows + 1;
    const [datasets, shipped, deadLettered] = await Promise.all([
      pool.query<{ name: string; spec: DatasetSpec }>(`SELECT name, spec FROM datasets ${q.dataset === undefined ? '' : 'WHERE name = $1'}`, q.dataset === undefined ? [] : [q.dataset]),
      pool.query<{ agent_id: string; dataset: string; minute: Date; shipped: string }>(
        `SELECT agent_id, dataset, minute, shipped FROM ledger_edge WHERE minute >= $1 AND minute < $2${edge.sql} LIMIT $3`,
        [range.from, range.to, limit, ...edge.params],
      ),
      pool.query<{ agent_id: string; dataset: string; minute: Date; n: string }>(
        `SELECT agent_id, dataset, ingest_minute AS minute, count(DISTINCT record_id) AS n FROM dlq
         WHERE ingest_minute >= $1 AND ingest_minute < $2 AND replayed_at IS NULL AND agent_id IS NOT NULL AND dataset IS NOT NULL${dead.sql}
         GROUP BY 1, 2, 3 LIMIT $3`,
        [range.from, range.to, limit, ...dead.params],
      ),
    ]);
    if (shipped.rows.length > this.#maxRows || deadLettered.rows.length > this.#maxRows) this.#tooMany();

    const cells = new Map<string, Cell>();
    const cell = (agentId: string, dataset: string, minute: number): Cell => {
      const key = `${minute}\u0000${dataset}\u0000${agentId}`;
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { agentId, dataset, minute, shipped: 0, deadLettered: 0, loaded: {} }));
      return c;
    };
    for (const r of shipped.rows) cell(r.agent_id, r.dataset, r.minute.getTime()).shipped += Number(r.shipped);
    for (const r of deadLettered.rows) cell(r.agent_id, r.dataset, r.minute.getTime()).deadLettered += Number(r.n);

    const specs = new Map(datasets.rows.map((r) => [r.name, r.spec]));
    const uncounted: LedgerResponse['uncounted'] = [];
    /** Per dataset: the stores it enables that could be counted. */
    const counted = new Map<string, LedgerStore[]>();
    const storeRange: LedgerRange = { from: range.from, to: range.to, agent: q.agent };
    try {
      await Promise.all(
        [...specs].map(async ([dataset, spec]) => {
          const stores: LedgerStore[] = [];
          counted.set(dataset, stores);
          await Promise.all(
            countedStores(spec).map(async ({ store, location }) => {
              const result = await this.#o.counters[store].count(spec, location, storeRange, this.#maxRows);
              if ('uncounted' in result) {
                uncounted.push({ dataset, store, reason: result.uncounted });
                return;
              }
              stores.push(store);
              for (const c of result.counts) {
                const target = cell(c.agentId, dataset, c.minute).loaded;
                target[store] = (target[store] ?? 0) + c.count;
              }
            }),
          );
        }),
      );
    } catch (error) {
      if (error instanceof TooManyLedgerRows) this.#tooMany();
      throw error;
    }
    if (cells.size > this.#maxRows) this.#tooMany();

    const settleMs = this.#o.settleSeconds * 1000;
    const rows = [...cells.values()]
      .sort((a, b) => a.minute - b.minute || a.dataset.localeCompare(b.dataset) || a.agentId.localeCompare(b.agentId))
      .map((c) => rowOf(c, specs.has(c.dataset), counted.get(c.dataset) ?? [], now - (c.minute + MINUTE) >= settleMs));
    const totals = { shipped: 0, loadedEverywhere: 0, deadLettered: 0, inFlight: 0, missing: 0 };
    for (const r of rows) {
      totals.shipped += r.shipped;
      totals.loadedEverywhere += r.loadedEverywhere;
      totals.deadLettered += r.deadLettered;
      totals.inFlight += r.inFlight;
      totals.missing += r.missing;
    }
    uncounted.sort((a, b) => a.dataset.localeCompare(b.dataset) || a.store.localeCompare(b.store));
    return { from: range.from.toISOString(), to: range.to.toISOString(), settleSeconds: this.#o.settleSeconds, rows, totals, uncounted };
  }

  #tooMany(): never {
    throw InputError(`the range holds more than ${this.#maxRows} agent × dataset × minute rows; narrow from/to, or name an agent or a dataset`);
  }
}

function rowOf(c: Cell, known: boolean, stores: readonly LedgerStore[], settled: boolean): LedgerRow {
  const loaded: LedgerRow['loaded'] = {};
  for (const s of stores) loaded[s] = c.loaded[s] ?? 0;
  const counts = stores.map((s) => loaded[s] ?? 0);
  const loadedEverywhere = counts.length > 0 ? Math.min(...counts) : 0;
  // A known dataset none of whose stores could be counted cannot tell in flight from missing.
  const canTell = !known || stores.length > 0;
  const remainder = canTell ? Math.max(0, c.shipped - loadedEverywhere - c.deadLettered) : 0;
  const expected = c.shipped - c.deadLettered;
  return {
    agentId: c.agentId,
    dataset: c.dataset,
    minute: new Date(c.minute).toISOString(),
    settled,
    shipped: c.shipped,
    loaded,
    loadedEverywhere,
    deadLettered: c.deadLettered,
    inFlight: settled ? 0 : remainder,
    missing: settled ? remainder : 0,
    missingIn: settled ? stores.filter((s) => (loaded[s] ?? 0) < expected) : [],
  };
}

/** From and to rounded out to whole minutes; `to` defaults to now, `from` to an hour before `to`. */
export function rangeOf(q: Pick<LedgerQuery, 'from' | 'to'>, now: number): { from: Date; to: Date } {
  const to = Math.ceil((q.to === undefined ? now : Date.parse(q.to)) / MINUTE) * MINUTE;
  const from = Math.floor((q.from === undefined ? to - 60 * MINUTE : Date.parse(q.from)) / MINUTE) * MINUTE;
  if (Number.isNaN(from) || Number.isNaN(to)) throw InputError('from, to: must be date-times');
  if (from >= to) throw InputError(`from: must be before to (${new Date(from).toISOString()} is not before ${new Date(to).toISOString()})`);
  if (to - from > LEDGER_MAX_RANGE_HOURS * 60 * MINUTE) {
    throw InputError(`from, to: the range spans ${((to - from) / 3_600_000).toFixed(1)} h; one request covers at most ${LEDGER_MAX_RANGE_HOURS} h`);
  }
  return { from: new Date(from), to: new Date(to) };
}
