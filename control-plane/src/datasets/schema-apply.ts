/**
 * Schema compare and apply (POST /api/v1/schema/compare, POST /api/v1/schema/versions/{id}/apply).
 *
 * Compare: two stored versions of a dataset, or a version and a proposed schema, through compatibility.ts
 * (the same comparison publishing a version makes), with backward/forward per change.
 *
 * Apply: makes the stores ready for a version, the way the sinks prepare a dataset (never dropping or
 * retyping what holds data): PostgreSQL columns added for new top-level properties, the search index template
 * and the existing indices' mappings extended, and the Parquet schema of new files recorded
 * (schema_applies.parquet_schema; compaction writes new Parquet files with the latest applied version). Answers what it did; audited.
 */
import type pg from 'pg';
import type { DatasetSpec, DatasetVersion } from '@sluice/shared/dataset';
import { InputError } from '@sluice/shared/errors';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, type AuditActor } from '../operators/audit.ts';
import { ENVELOPE_COLUMNS, typedColumns } from '../sinks/postgres/columns.ts';
import { parquetColumns, type ParquetColumn } from '../lake/compaction/columns.ts';
import { payloadMapping } from '../sinks/search/index-template.ts';
import { compareSchemas, type SchemaChange } from './compatibility.ts';
import type { DatasetStore } from './dataset-store.ts';
import { ValidatorCache } from './validators.ts';

export type SchemaSide = { version: number } | { schema: Record<string, unknown> };

export interface CompareResult {
  dataset: string;
  from: { version: number | null };
  to: { version: number | null };
  /** Publishing `to` after `from` needs no force. */
  compatible: boolean;
  backward: boolean;
  forward: boolean;
  changes: SchemaChange[];
}

export interface ApplyResult {
  dataset: string;
  version: number;
  postgres:
    | { applied: false; reason: string }
    | {
        applied: true;
        table: string;
        added: Array<{ column: string; type: string }>;
        /** Columns of the table the version no longer has: kept, with their data. */
        kept: string[];
        /** Columns whose type the version would choose differently: the table keeps its type. */
        retyped: Array<{ column: string; tableType: string; schemaType: string }>;
        outcome: string;
      };
  search: { applied: false; reason: string } | { applied: true; fields: string[]; outcome: string };
  parquet: { columns: ParquetColumn[]; note: string };
}

export class SchemaService {
  readonly #pool: pg.Pool;
  readonly #datasets: DatasetStore;
  readonly #dataSchema: string;

  constructor(pool: pg.Pool, datasets: DatasetStore, dataSchema: string) {
    this.#pool = pool;
    this.#datasets = datasets;
    this.#dataSchema = dataSchema;
  }

  async compare(dataset: string, from: SchemaSide, to: SchemaSide): Promise<CompareResult> {
    const [before, after] = await Promise.all([this.#side(dataset, from), this.#side(dataset, to)]);
    const report = compareSchemas(before.schema, after.schema);
    return {
      dataset,
      from: { version: before.version },
      to: { version: after.version },
      compatible: report.compatible,
      backward: report.changes.every((c) => c.backward),
      forward: report.changes.every((c) => c.forward),
      changes: report.changes,
    };
  }

  async apply(id: string, by: { actor: AuditActor; requestId?: string | undefined }): Promise<ApplyResult> {
    const { dataset, version } = parseVersionId(id);
    const view = await this.#datasets.get(dataset);
    const stored = await this.#datasets.version(dataset, version);
    const target: DatasetVersion = { spec: view.spec, version, schema: stored.schema };
    const table = view.spec.sinks.postgres?.table ?? view.spec.name;
    const pgOn = view.spec.sinks.postgres?.enabled === true;
    const before = pgOn ? await this.#columns(table) : new Map<string, string>();
    const prepared = await this.#datasets.prepare(target);
    const outcome = (sink: string): string => {
      const p = prepared.find((x) => x.sink === sink);
      if (p === undefined) return 'not prepared (no such sink here)';
      return p.outcome.kind === 'ok' ? 'ok' : `${p.outcome.kind}: ${'reason' in p.outcome ? String(p.outcome.reason) : ''}`;
    };
    const wanted = typedColumns(stored.schema);
    let postgres: ApplyResult['postgres'] = { applied: false, reason: 'the PostgreSQL sink is off for this dataset' };
    if (pgOn) {
      const after = await this.#columns(table);
      const wantedNames = new Set(wanted.map((c) => c.column));
      postgres = {
        applied: true,
        table: `${this.#dataSchema}.${table}`,
        added: wanted.filter((c) => !before.has(c.column) && after.has(c.column)).map((c) => ({ column: c.column, type: after.get(c.column)! })),
        kept: [...after.keys()].filter((c) => !(ENVELOPE_COLUMNS as readonly string[]).includes(c) && !wantedNames.has(c)).sort(),
        retyped: wanted
          .filter((c) => after.has(c.column) && normalType(after.get(c.column)!) !== c.type)
          .map((c) => ({ column: c.column, tableType: after.get(c.column)!, schemaType: c.type })),
        outcome: outcome('postgres'),
      };
    }
    const searchOn = view.spec.sinks.search?.enabled === true;
    const search: ApplyResult['search'] = searchOn
      ? { applied: true, fields: Object.keys((payloadMapping(stored.schema).properties as Record<string, unknown> | undefined) ?? {}).sort(), outcome: outcome('search') }
      : { applied: false, reason: 'the search sink is off for this dataset' };
    const columns = parquetColumns(stored.schema);
    const result: ApplyResult = {
      dataset,
      version,
      postgres,
      search,
      parquet: { columns, note: 'Parquet files written from now on (compaction) use these columns; files written before keep theirs' },
    };
    await withTransaction(this.#pool, async (client) => {
      await client.query('INSERT INTO schema_applies (dataset, version, applied_by, result, parquet_schema) VALUES ($1, $2, $3, $4, $5)', [
        dataset,
        version,
        by.actor.name ?? by.actor.id,
        JSON.stringify(result),
        JSON.stringify(columns),
      ]);
      await recordAudit(client, { ...by, action: 'schema.apply', target: { kind: 'dataset', id: dataset }, after: { version, postgres, search: searchOn ? search : undefined, parquetColumns: columns.length } });
    });
    return result;
  }

  async #side(dataset: string, side: SchemaSide): Promise<{ version: number | null; schema: Record<string, unknown> }> {
    if ('version' in side) return { version: side.version, schema: (await this.#datasets.version(dataset, side.version)).schema };
    ValidatorCache.assertValidSchema(side.schema);
    // The dataset must exist even when both sides are proposed schemas.
    await this.#datasets.get(dataset);
    return { version: null, schema: side.schema };
  }

  async #columns(table: string): Promise<Map<string, string>> {
    const found = await this.#pool.query<{ attname: string; type: string }>(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`,
      [this.#dataSchema, table],
    );
    return new Map(found.rows.map((r) => [r.attname, r.type]));
  }
}

function normalType(formatType: string): string {
  return formatType === 'timestamp with time zone' ? 'timestamptz' : formatType;
}

/** `<dataset>@<version>`, e.g. `orders@3`. */
export function parseVersionId(id: string): { dataset: string; version: number } {
  const match = /^([a-z][a-z0-9_]{0,62})@([1-9][0-9]{0,8})$/.exec(id);
  if (!match) throw InputError(`schema version id ${JSON.stringify(id)} must be <dataset>@<version>, e.g. orders@3`);
  return { dataset: match[1]!, version: Number(match[2]) };
}

export function versionId(spec: Pick<DatasetSpec, 'name'>, version: number): string {
  return `${spec.name}@${version}`;
}

