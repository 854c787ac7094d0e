/**
 * Datasets and their schema versions in PostgreSQL. A new version is compared with the latest one
 * (compatibility.ts) and refused with the report unless forced; once stored, each sink's prepare() evolves
 * what the dataset needs (the postgres sink ALTERs its table). A new dataset's store locations (table, index
 * prefix, object prefix) must be well-formed and not owned by another dataset (shared/src/dataset-locations.ts).
 * Creating a dataset and adding a version are audited (`dataset.create`, `dataset.version`) in their own
 * transaction; checkVersion answers what addVersion would decide and stores nothing.
 */
import type pg from 'pg';
import type { DatasetSpec, DatasetVersion } from '@sluice/shared/dataset';
import { BugError, ConflictError, InputError, NotFoundError, UnavailableError } from '@sluice/shared/errors';
import { findLocationOwner, locationProblems } from '@sluice/shared/dataset-locations';
import type { Outcome } from '@sluice/shared/outcome';
import { compareSchemas, type CompatibilityReport } from './compatibility.ts';
import { ValidatorCache } from './validators.ts';
import { checkProcessing } from './record-processor.ts';
import type { QualityRule, TransformSpec } from '@sluice/shared/transforms';
import { withTransaction } from '../db/transaction.ts';
import { recordAudit, SYSTEM_ACTOR, type AuditActor } from '../operators/audit.ts';

/** Who makes a change, for its audit row (written in the change's transaction). */
export interface ChangedBy {
  actor: AuditActor;
  requestId?: string | undefined;
}

export interface DatasetView {
  spec: DatasetSpec;
  latestVersion: number;
  schema: Record<string, unknown>;
  versions: Array<{ version: number; createdAt: string }>;
  createdAt: string;
}

/** Called after a version is stored so each sink can prepare for it; a failure is reported, not hidden. */
export type PrepareHook = (dataset: DatasetVersion) => Promise<ReadonlyArray<{ sink: string; outcome: Outcome }>>;

export interface AddVersionResult {
  version: number;
  report: CompatibilityReport;
  prepared: ReadonlyArray<{ sink: string; outcome: Outcome }>;
}

/** A proposed version checked against the latest one, nothing stored. */
export interface VersionCheck {
  latestVersion: number;
  /** The number it would get if published now. */
  version: number;
  report: CompatibilityReport;
}

interface VersionRow {
  spec: DatasetSpec;
  version: number;
  schema: Record<string, unknown>;
  transforms: TransformSpec[];
  rules: QualityRule[];
}

/** A version's transforms and quality rules (docs/transforms.md); none by default. */
export interface Processing {
  transforms?: TransformSpec[] | undefined;
  rules?: QualityRule[] | undefined;
}

export class DatasetStore {
  readonly #pool: pg.Pool;
  readonly #prepare: PrepareHook;
  /** The consumer asks for the latest version of every record's dataset; a short TTL bounds staleness. */
  readonly #latest = new Map<string, { at: number; value: DatasetVersion | undefined }>();
  readonly #cacheTtlMs: number;

  constructor(pool: pg.Pool, options: { prepare?: PrepareHook; cacheTtlMs?: number } = {}) {
    this.#pool = pool;
    this.#prepare = options.prepare ?? (() => Promise.resolve([]));
    this.#cacheTtlMs = options.cacheTtlMs ?? 5_000;
  }

  async create(spec: DatasetSpec, schema: Record<string, unknown>, by: ChangedBy = { actor: SYSTEM_ACTOR }, processing: Processing = {}): Promise<AddVersionResult> {
    const problems = locationProblems(spec);
    if (problems.length > 0) throw InputError(`invalid dataset ${spec.name}: ${problems.join('; ')}`, problems);
    ValidatorCache.assertValidSchema(schema);
    checkProcessing(processing.transforms, processing.rules);
    const transforms = processing.transforms ?? [];
    const rules = processing.rules ?? [];
    await withTransaction(this.#pool, async (client) => {
      // One publish at a time claims locations: two concurrent ones must not both see the other's as free.
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('sluice-dataset-locations:' || current_schema()))`);
      const existing = await client.query<{ spec: DatasetSpec }>('SELECT spec FROM datasets');
      if (existing.rows.some((r) => r.spec.name === spec.name)) throw ConflictError(`dataset ${spec.name} already exists`);
      const taken = findLocationOwner(spec, existing.rows.map((r) => r.spec));
      if (taken) {
        const { claim, owner, owned } = taken;
        throw ConflictError(
          `${claim.field} ${JSON.stringify(claim.location)} overlaps ${owned.field} ${JSON.stringify(owned.location)} of dataset ${owner}: each store location belongs to one dataset`,
          { store: claim.store, location: claim.location, owner, ownerLocation: owned.location },
        );
      }
      const inserted = await client.query('INSERT INTO datasets (name, spec) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [spec.name, spec]);
      if (inserted.rowCount === 0) throw ConflictError(`dataset ${spec.name} already exists`);
      await client.query('INSERT INTO dataset_versions (dataset, version, schema, transforms, rules) VALUES ($1, 1, $2, $3, $4)', [spec.name, schema, JSON.stringify(transforms), JSON.stringify(rules)]);
      await recordAudit(client, { ...by, action: 'dataset.create', target: { kind: 'dataset', id: spec.name }, after: { spec, version: 1, schema, transforms, rules } });
    });
    this.#latest.delete(spec.name);
    const prepared = await this.#prepare({ spec, version: 1, schema, transforms, rules });
    return { version: 1, report: { compatible: true, changes: [] }, prepared };
  }

  async addVersion(name: string, schema: Record<string, unknown>, force: boolean, by: ChangedBy = { actor: SYSTEM_ACTOR }, processing: Processing = {}): Promise<AddVersionResult> {
    ValidatorCache.assertValidSchema(schema);
    checkProcessing(processing.transforms, processing.rules);
    const transforms = processing.transforms ?? [];
    const rules = processing.rules ?? [];
    const { next, report } = await withTransaction(this.#pool, async (client) => {
      // Lock the dataset row: two concurrent publishers must not both become version n+1.
      const { spec, latest, latestSchema, latestProcessing, report } = await compareWithLatest(client, name, schema, 'FOR UPDATE');
      if (!report.compatible && !force) {
        throw ConflictError(`schema is incompatible with version ${latest} of ${name}; add ?force=true to publish it anyway`, report);
      }
      const next: DatasetVersion = { spec, version: latest + 1, schema, transforms, rules };
      await client.query('INSERT INTO dataset_versions (dataset, version, schema, transforms, rules) VALUES ($1, $2, $3, $4, $5)', [name, next.version, schema, JSON.stringify(transforms), JSON.stringify(rules)]);
      await client.query('UPDATE datasets SET updated_at = now() WHERE name = $1', [name]);
      await recordAudit(client, {
        ...by,
        action: 'dataset.version',
        target: { kind: 'dataset', id: name },
        before: { version: latest, schema: latestSchema, ...latestProcessing },
        after: { version: next.version, schema, transforms, rules, forced: !report.compatible },
      });
      return { next, report };
    });
    this.#latest.delete(name);
    const prepared = await this.#prepare(next);
    return { version: next.version, report, prepared };
  }

  /**
   * What addVersion would decide for `schema`, without storing it: the same schema check and the same
   * comparison with the latest version. Another publish may land in between; addVersion compares again.
   */
  async checkVersion(name: string, schema: Record<string, unknown>): Promise<VersionCheck> {
    ValidatorCache.assertValidSchema(schema);
    const { latest, report } = await compareWithLatest(this.#pool, name, schema, '');
    return { latestVersion: latest, version: latest + 1, report };
  }

  /** Prepares the stores for `dataset` (the sinks' prepare: tables, columns, index templates), as publishing a version does. */
  prepare(dataset: DatasetVersion): ReturnType<PrepareHook> {
    return this.#prepare(dataset);
  }

  /** One stored version with its schema (versions are immutable). */
  async version(name: string, version: number): Promise<{ version: number; schema: Record<string, unknown>; transforms: TransformSpec[]; rules: QualityRule[]; createdAt: string }> {
    const found = await this.#pool.query<{ schema: Record<string, unknown>; transforms: TransformSpec[]; rules: QualityRule[]; created_at: Date }>(
      'SELECT schema, transforms, rules, created_at FROM dataset_versions WHERE dataset = $1 AND version = $2',
      [name, version],
    );
    const row = found.rows[0];
    if (!row) throw NotFoundError(`dataset ${name} has no version ${String(version)}`);
    return { version, schema: row.schema, transforms: row.transforms, rules: row.rules, createdAt: row.created_at.toISOString() };
  }

  async get(name: string): Promise<DatasetView> {
    const found = await this.#views('WHERE d.name = $1', [name]);
    const view = found[0];
    if (!view) throw NotFoundError(`dataset ${name} does not exist`);
    return view;
  }

  list(): Promise<DatasetView[]> {
    return this.#views('', []);
  }

  /**
   * The version records are validated against now; undefined when the dataset does not exist. A record
   * stamped with a newer version than the cached one (published moments ago) bypasses the cache.
   */
  async latest(name: string, atLeastVersion = 0): Promise<DatasetVersion | undefined> {
    const cached = this.#latest.get(name);
    const fresh = cached && Date.now() - cached.at < this.#cacheTtlMs && (cached.value?.version ?? 0) >= atLeastVersion;
    if (cached && fresh) return cached.value;
    let row: VersionRow | undefined;
    try {
      const result = await this.#pool.query<VersionRow>(
        `SELECT d.spec, v.version, v.schema, v.transforms, v.rules FROM datasets d JOIN dataset_versions v ON v.dataset = d.name
          WHERE d.name = $1 ORDER BY v.version DESC LIMIT 1`,
        [name],
      );
      row = result.rows[0];
    } catch (error) {
      throw UnavailableError('dataset registry (PostgreSQL) unreachable', { retryAfterSeconds: 1 }, { cause: error });
    }
    const value = row ? { spec: row.spec, version: row.version, schema: row.schema, transforms: row.transforms, rules: row.rules } : undefined;
    this.#latest.set(name, { at: Date.now(), value });
    return value;
  }

  async #views(where: string, params: unknown[]): Promise<DatasetView[]> {
    const result = await this.#pool.query<{
      spec: DatasetSpec;
      created_at: Date;
      versions: Array<{ version: number; created_at: string }>;
      schema: Record<string, unknown>;
    }>(
      `SELECT d.spec, d.created_at,
              (SELECT json_agg(json_build_object('version', v.version, 'created_at', v.created_at) ORDER BY v.version)
                 FROM dataset_versions v WHERE v.dataset = d.name) AS versions,
              (SELECT v.schema FROM dataset_versions v WHERE v.dataset = d.name ORDER BY v.version DESC LIMIT 1) AS schema
         FROM datasets d ${where} ORDER BY d.name`,
      params,
    );
    return result.rows.map((r) => {
      const versions = (r.versions ?? []).map((v) => ({ version: v.version, createdAt: new Date(v.created_at).toISOString() }));
      return { spec: r.spec, latestVersion: versions.at(-1)?.version ?? 0, schema: r.schema, versions, createdAt: r.created_at.toISOString() };
    });
  }
}

/** The dataset's spec and latest version, and how `schema` compares with it (compatibility.ts). */
async function compareWithLatest(
  db: pg.ClientBase | pg.Pool,
  name: string,
  schema: Record<string, unknown>,
  lock: 'FOR UPDATE' | '',
): Promise<{ spec: DatasetSpec; latest: number; latestSchema: Record<string, unknown>; latestProcessing: Required<Processing>; report: CompatibilityReport }> {
  const ds = await db.query<{ spec: DatasetSpec }>(`SELECT spec FROM datasets WHERE name = $1 ${lock}`, [name]);
  const spec = ds.rows[0]?.spec;
  if (!spec) throw NotFoundError(`dataset ${name} does not exist`);
  const latest = await db.query<{ version: number; schema: Record<string, unknown>; transforms: TransformSpec[]; rules: QualityRule[] }>(
    'SELECT version, schema, transforms, rules FROM dataset_versions WHERE dataset = $1 ORDER BY version DESC LIMIT 1',
    [name],
  );
  const current = latest.rows[0];
  if (!current) throw BugError(`dataset ${name} has no schema version`);
  return { spec, latest: current.version, latestSchema: current.schema, latestProcessing: { transforms: current.transforms, rules: current.rules }, report: compareSchemas(current.schema, schema) };
}

export function assertDatasetName(name: string): void {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw InputError(`dataset name ${JSON.stringify(name)} must match ^[a-z][a-z0-9_]{0,62}$`);
}
