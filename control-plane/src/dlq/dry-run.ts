/**
 * A replay's dry run: how many of the selected DLQ entries the consumer would now take, and why the others
 * would fail again. Each entry's original message goes through the consumer's own intake (record-intake.ts:
 * size, envelope, dataset known, parse error, what no store accepts, the dataset's schema) against the
 * registry as it is now, or with one dataset pinned to a chosen schema version. Nothing is written, sent
 * or counted in the metrics.
 *
 * It cannot foresee a store refusing a record (reason kind `sink`) or a blob failing to assemble: those
 * entries pass the intake and count as would pass.
 *
 * Bounded: at most `limit` entries, read oldest first in pages (by default at most 500 rows and about
 * 8 MiB of original bytes), so a DLQ of millions is never in memory at once.
 */
import type pg from 'pg';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { ReasonKind } from '@sluice/shared/api/dlq';
import type { DlqDryRunResponse } from '@sluice/shared/api/dlq-bulk';
import { NotFoundError } from '@sluice/shared/errors';
import { BatchLookups, type DatasetLookup } from '../consumer/batch-lookups.ts';
import { reasonKind } from '../consumer/dead-letters.ts';
import { RecordIntake } from '../consumer/record-intake.ts';
import type { DatasetStore } from '../datasets/dataset-store.ts';
import type { ValidatorCache } from '../datasets/validators.ts';
import { ControlPlaneMetrics } from '../metrics/metrics.ts';
import { originalMessage, type DlqRow } from './dlq-rows.ts';
import { whereOf, type DlqSelection } from './dlq-selection.ts';
import { failurePaths } from './failure-paths.ts';

/** A page of entries: at most this many rows, and no more original bytes than this past its first row. */
export interface DryRunPaging {
  pageRows: number;
  pageBytes: number;
}

const DEFAULT_PAGING: DryRunPaging = { pageRows: 500, pageBytes: 8 * 1024 * 1024 };

export interface DryRunDeps {
  pool: pg.Pool;
  datasets: Pick<DatasetStore, 'latest' | 'version'>;
  validators: ValidatorCache;
  /** The consumer's record size limit (SLUICE_MAX_RECORD_BYTES). */
  maxRecordBytes: number;
}

export interface DryRunOrder {
  selection: DlqSelection;
  against?: { dataset: string; version: number } | undefined;
  limit: number;
  samples: number;
}

type PageRow = Pick<DlqRow, 'id' | 'dataset' | 'record_id' | 'topic' | 'partition' | 'offset' | 'original' | 'headers'>;

export class DlqDryRun {
  readonly #deps: DryRunDeps;
  readonly #paging: DryRunPaging;
  /** The intake counts refusals in its metrics; a dry run's go to a registry nobody scrapes. */
  readonly #intake: RecordIntake;

  constructor(deps: DryRunDeps, paging: DryRunPaging = DEFAULT_PAGING) {
    this.#deps = deps;
    this.#paging = paging;
    this.#intake = new RecordIntake({ maxRecordBytes: deps.maxRecordBytes, metrics: new ControlPlaneMetrics() });
  }

  async run(order: DryRunOrder): Promise<DlqDryRunResponse> {
    const lookups = new BatchLookups(await this.#registry(order.against), this.#deps.validators, (_what, operation) => operation());
    const answer: DlqDryRunResponse = { matched: await this.#count(order.selection), total: 0, truncated: false, against: order.against ?? null, wouldPass: 0, wouldFail: 0, byReason: [], samples: [] };
    const byReason = new Map<ReasonKind, { count: number; example: string }>();
    let after = '0';
    while (answer.total < order.limit) {
      const page = await this.#page(order.selection, after, Math.min(this.#paging.pageRows, order.limit - answer.total));
      if (page.length === 0) break;
      after = page.at(-1)!.id;
      const ids = new Map(page.map((row) => [`${row.topic}\u0000${row.partition}\u0000${row.offset}`, row]));
      const { dead } = await this.#intake.take(page.map(originalMessage), lookups);
      answer.total += page.length;
      answer.wouldFail += dead.length;
      for (const entry of dead) {
        const kind = entry.reasonKind ?? reasonKind(entry.reason);
        const seen = byReason.get(kind) ?? { count: 0, example: entry.reason };
        seen.count += 1;
        byReason.set(kind, seen);
        const row = ids.get(`${entry.topic}\u0000${entry.partition}\u0000${entry.offset}`);
        if (row && answer.samples.length < order.samples) {
          answer.samples.push({ id: row.id, recordId: entry.recordId ?? row.record_id, dataset: entry.dataset ?? row.dataset, reasonKind: kind, reason: entry.reason, paths: failurePaths(entry.reason) });
        }
      }
    }
    answer.wouldPass = answer.total - answer.wouldFail;
    answer.truncated = answer.total < answer.matched;
    answer.byReason = [...byReason].map(([kind, seen]) => ({ reasonKind: kind, ...seen })).sort((a, b) => b.count - a.count || a.reasonKind.localeCompare(b.reasonKind));
    return answer;
  }

  /** The registry as the consumer asks it, with `against` (if given) answering for its dataset. */
  async #registry(against: DryRunOrder['against']): Promise<DatasetLookup> {
    const { datasets } = this.#deps;
    if (against === undefined) return datasets;
    const current = await datasets.latest(against.dataset);
    if (!current) throw NotFoundError(`dataset ${against.dataset} does not exist`);
    const chosen = await datasets.version(against.dataset, against.version);
    const pinned: DatasetVersion = { spec: current.spec, version: chosen.version, schema: chosen.schema };
    return { latest: (name, atLeastVersion) => (name === against.dataset ? Promise.resolve(pinned) : datasets.latest(name, atLeastVersion)) };
  }

  async #count(selection: DlqSelection): Promise<number> {
    const params: unknown[] = [];
    const found = await this.#deps.pool.query<{ n: string }>(`SELECT count(*) AS n FROM dlq WHERE ${whereOf(selection, params)}`, params);
    return Number(found.rows[0]?.n ?? 0);
  }

  /** The next entries after id `after`, oldest first: at most `rows`, and no more bytes than the page's past the first. */
  async #page(selection: DlqSelection, after: string, rows: number): Promise<PageRow[]> {
    const params: unknown[] = [];
    const where = whereOf(selection, params);
    params.push(after, rows, this.#paging.pageBytes);
    const n = params.length;
    const found = await this.#deps.pool.query<PageRow>(
      `SELECT id, dataset, record_id, topic, partition, "offset", original, headers FROM (
         SELECT id, dataset, record_id, topic, partition, "offset", original, headers, sum(octet_length(original)) OVER (ORDER BY id) AS running
           FROM dlq WHERE ${where} AND id > $${n - 2}::bigint ORDER BY id LIMIT $${n - 1}
       ) page WHERE running - octet_length(original) < $${n} ORDER BY id`,
      params,
    );
    return found.rows;
  }
}
