/**
 * Lake tables (docs/lake.md): every dataset that enables the object-store sink, with its partition spec,
 * statistics summed over its partitions (lake_segments) and what users may change (lake_tables: description,
 * compaction settings). A soft-deleted table leaves the list; its dataset and data stay. Changes are audited
 * in the same transaction.
 */
import type pg from 'pg';
import { NotFoundError } from '@sluice/shared/errors';
import type { TableView, UpdateTableBody } from '@sluice/shared/api/lake';
import type { DatasetStore, DatasetView } from '../../datasets/dataset-store.ts';
import { withTransaction } from '../../db/transaction.ts';
import { recordAudit, type AuditActor } from '../../operators/audit.ts';
import { objectPrefix } from '../../sinks/object-store/object-keys.ts';
import { listPartitions, type PartitionRow } from '../partitions/partition-stats.ts';
import { partitionFields } from '../partitions/partition-spec.ts';

interface SettingsRow { dataset: string; description: string | null; compaction: TableView['compaction']; deleted_at: Date | null }
interface TotalsRow { dataset: string; partitions: string; files: string; records: string; bytes: string; last_write: Date | null }

export class TableStore {
  readonly pool: pg.Pool;
  readonly datasets: DatasetStore;

  constructor(pool: pg.Pool, datasets: DatasetStore) {
    this.pool = pool;
    this.datasets = datasets;
  }

  async list(): Promise<TableView[]> {
    const lake = (await this.datasets.list()).filter((d) => d.spec.sinks.objectStore?.enabled === true);
    const names = lake.map((d) => d.spec.name);
    const [settings, totals] = await Promise.all([
      this.pool.query<SettingsRow>('SELECT dataset, description, compaction, deleted_at FROM lake_tables WHERE dataset = ANY($1::text[])', [names]),
      this.pool.query<TotalsRow>(
        `SELECT dataset, count(DISTINCT partition) AS partitions, count(*) AS files, sum(records) AS records, sum(bytes) AS bytes, max(written_at) AS last_write
           FROM lake_segments WHERE dataset = ANY($1::text[]) GROUP BY dataset`,
        [names],
      ),
    ]);
    const bySettings = new Map(settings.rows.map((r) => [r.dataset, r]));
    const byTotals = new Map(totals.rows.map((r) => [r.dataset, r]));
    return lake.filter((d) => !bySettings.get(d.spec.name)?.deleted_at).map((d) => view(d, bySettings.get(d.spec.name), byTotals.get(d.spec.name)));
  }

  async get(name: string): Promise<TableView> {
    const table = (await this.list()).find((t) => t.name === name);
    if (!table) throw NotFoundError(`lake table ${name} does not exist (no dataset of that name with the object-store sink enabled, or it was deleted)`);
    return table;
  }

  async partitions(name: string, q: { prefix?: string; after?: string; limit?: number }): Promise<{ items: Array<Omit<PartitionRow, 'dataset'>>; nextCursor: string | null }> {
    await this.get(name);
    const limit = q.limit ?? 100;
    const rows = await listPartitions(this.pool, { dataset: name, limit, ...(q.prefix === undefined ? {} : { prefix: q.prefix }), ...(q.after === undefined ? {} : { after: q.after }) });
    return { items: rows.map(({ dataset: _d, ...rest }) => rest), nextCursor: rows.length === limit ? rows.at(-1)!.partition : null };
  }

  async update(name: string, body: UpdateTableBody, by: { actor: AuditActor; requestId?: string }): Promise<TableView> {
    const before = await this.get(name);
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO lake_tables (dataset, description, compaction) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (dataset) DO UPDATE SET description = EXCLUDED.description, compaction = EXCLUDED.compaction, updated_at = now()`,
        [name, body.description === undefined ? before.description : body.description, JSON.stringify(body.compaction ?? before.compaction)],
      );
      await recordAudit(client, { actor: by.actor, action: 'table.update', target: { kind: 'table', id: name }, before: { description: before.description, compaction: before.compaction }, after: body, requestId: by.requestId });
    });
    return this.get(name);
  }

  async softDelete(name: string, by: { actor: AuditActor; requestId?: string }): Promise<void> {
    const before = await this.get(name);
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `INSERT INTO lake_tables (dataset, deleted_at) VALUES ($1, now()) ON CONFLICT (dataset) DO UPDATE SET deleted_at = now(), updated_at = now()`,
        [name],
      );
      await recordAudit(client, { actor: by.actor, action: 'table.delete', target: { kind: 'table', id: name }, before: { description: before.description, records: before.records }, requestId: by.requestId });
    });
  }
}

function view(d: DatasetView, settings: SettingsRow | undefined, totals: TotalsRow | undefined): TableView {
  return {
    name: d.spec.name,
    prefix: objectPrefix({ spec: d.spec, version: d.latestVersion, schema: d.schema }),
    partitionSpec: partitionFields(d.spec),
    description: settings?.description ?? null,
    compaction: settings?.compaction ?? {},
    partitions: Number(totals?.partitions ?? 0),
    files: Number(totals?.files ?? 0),
    records: Number(totals?.records ?? 0),
    bytes: Number(totals?.bytes ?? 0),
    lastWrite: totals?.last_write?.toISOString() ?? null,
  };
}
