/**
 * PostgreSQL sink: one table per dataset in a data schema, the envelope's columns + the payload as jsonb +
 * typed columns from the JSON Schema's top-level properties.
 *
 * A write is one transaction: COPY the batch (text format) into a temporary staging table, then
 * `INSERT … SELECT … ON CONFLICT (id) DO NOTHING`, so a replayed batch changes nothing (the record id is the
 * primary key). Values are cast in that INSERT; when a cast refuses a value the schema let through, the batch
 * is bisected under savepoints to find the bad rows, which come back as `rejected` while the rest commit.
 * A batch seen for the first time first tries a plain binary COPY into the table under a savepoint (see
 * `#copyDirect`); the staged path above is the fallback and the one that defines the semantics.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { failed, ok, retryable, type Outcome } from '@sluice/shared/outcome';
import { createLogger, type Logger } from '@sluice/shared/node/logger';
import type { PaneFolder } from '../../analytics/pane-store.ts';
import type { Sink, SinkBatch, SinkWriteResult } from '../sink.ts';
import { castExpression, copyFieldFor, ENVELOPE_COLUMNS, quoteIdent, quoteLiteral, typedColumns, type CopyField, type TypedColumn } from './columns.ts';
import { CopyBinaryWriter } from './copy-binary.ts';
import { containsNul, copyTextRow } from './copy-text.ts';
import { classifyPgError, describePgError, sqlState } from './pg-errors.ts';

export interface PostgresSinkConfig {
  connectionString: string;
  /** Schema holding the data tables. The operator's setting and its default live in config.ts. */
  schema: string;
  /** Pool size; each write holds one connection for its transaction. Default 4. */
  poolSize?: number;
  /** How long to wait for a connection before calling the database unavailable. Default 5 s. */
  connectTimeoutMs?: number;
  /** Server-side limit per statement. Default 120 s. */
  statementTimeoutMs?: number;
  logger?: Logger;
  /**
   * Folds the rows a write stored for the first time into their analytics panes, in the write's transaction
   * (docs/analytics.md): replays and duplicates add nothing, as the INSERT reports only new rows.
   */
  panes?: PaneFolder;
}

/** A prepared table: where it is and the typed columns (with the type the table really has) to fill. */
interface PreparedTable {
  qualified: string;
  columns: PreparedColumn[];
}

/** A typed column with the type the table really has, and how a payload value becomes its COPY field. */
interface PreparedColumn extends TypedColumn {
  castType: string;
  copyField: CopyField;
}

/** How `format_type()` spells the types `pgTypeOf` uses, where it differs. */
const FORMAT_TYPE_NAMES: Partial<Record<TypedColumn['type'], string>> = { timestamptz: 'timestamp with time zone' };
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const STAGE = 'sluice_stage';

export class PostgresSink implements Sink {
  readonly name = 'postgres';
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #logger: Logger;
  readonly #prepared = new Map<string, PreparedTable>();
  readonly #panes: PaneFolder | undefined;
  /** Batches committed by each write path (direct COPY vs staged INSERT), for tests and diagnostics. */
  readonly batchesByPath = { direct: 0, staged: 0 };
  #closed = false;

  constructor(config: PostgresSinkConfig) {
    this.#schema = config.schema;
    if (!SCHEMA_NAME.test(this.#schema)) throw new TypeError(`invalid PostgreSQL schema name ${JSON.stringify(this.#schema)}`);
    this.#logger = config.logger ?? createLogger('postgres-sink');
    this.#panes = config.panes;
    this.#pool = new pg.Pool({
      connectionString: config.connectionString,
      max: config.poolSize ?? 4,
      connectionTimeoutMillis: config.connectTimeoutMs ?? 5_000,
      statement_timeout: config.statementTimeoutMs ?? 120_000,
      // The server cannot enforce statement_timeout across a network partition; the client gives up a bit later.
      query_timeout: (config.statementTimeoutMs ?? 120_000) + 10_000,
      keepAlive: true,
      idleTimeoutMillis: 30_000,
      application_name: 'sluice-postgres-sink',
    });
    // An idle client whose server went away emits 'error' on the pool; unhandled it would kill the process.
    this.#pool.on('error', (error) => this.#logger.warn({ err: describePgError(error) }, 'idle PostgreSQL connection lost'));
  }

  async prepare(dataset: DatasetVersion): Promise<Outcome> {
    try {
      await this.#prepare(dataset);
      return ok;
    } catch (error) {
      return this.#outcomeOf(error, `preparing table for ${dataset.spec.name} v${dataset.version}`);
    }
  }

  async write(batch: SinkBatch): Promise<SinkWriteResult> {
    if (this.#closed) return failed('postgres sink is closed');
    let table: PreparedTable;
    try {
      table = this.#prepared.get(preparedKey(batch.dataset)) ?? (await this.#prepare(batch.dataset));
    } catch (error) {
      return this.#outcomeOf(error, `preparing table for ${batch.dataset.spec.name}`);
    }

    const rejected: Array<{ id: string; reason: string }> = [];
    const accepted: Envelope[] = [];
    for (const { envelope: e } of batch.records) {
      // NUL cannot live in a PostgreSQL text value (in the payload it surfaces later as a jsonb error).
      if (containsNul(e.id) || containsNul(e.agentId) || containsNul(e.eventTime) || containsNul(e.ingestTime)) {
        rejected.push({ id: e.id, reason: 'postgres: envelope field contains a NUL character, which PostgreSQL text cannot store' });
      } else accepted.push(e);
    }
    if (accepted.length === 0) return { ...ok, rejected };
    const version = batch.dataset.version;
    const direct = directRows(accepted, table.columns, version);
    // The staged path is for replays and values that need SQL casts: its rows are built only when taken.
    const stagedRows = (): string =>
      accepted.map((e, n) => copyTextRow([n, e.id, e.eventTime, e.ingestTime, e.agentId, e.schemaVersion ?? version, JSON.stringify(e.payload ?? null)])).join('');

    let client: pg.PoolClient;
    try {
      client = await this.#checkout();
    } catch (error) {
      return this.#outcomeOf(error, 'connecting');
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const directDone = direct !== undefined && (await this.#copyDirect(client, table, direct));
      // Only a dataset with aggregations asks the INSERT which rows were new (RETURNING id); the direct COPY
      // fails on any id already stored, so when it succeeded every row is new.
      const panes = this.#panes && (batch.dataset.spec.aggregations?.length ?? 0) > 0 ? this.#panes : undefined;
      const inserted = panes ? new Set<string>() : undefined;
      if (!directDone) {
        await client.query(
          `CREATE TEMPORARY TABLE ${STAGE} (n int, id text, event_time text, ingest_time text, agent_id text, schema_version int, payload text) ON COMMIT DROP`,
        );
        await pipeline(Readable.from([stagedRows()]), client.query(copyFrom(`COPY ${STAGE} FROM STDIN`)));
        await this.#insertIsolating(client, table, 0, accepted.length - 1, accepted, rejected, inserted);
      }
      if (panes && inserted) await panes.fold(client, batch.dataset, directDone ? accepted : firstOfEach(accepted, inserted));
      await client.query('COMMIT');
      this.batchesByPath[directDone ? 'direct' : 'staged']++;
      return { ...ok, rejected };
    } catch (error) {
      if (classifyPgError(error) === 'retryable') broken = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      const state = sqlState(error);
      if (state === '42P01' || state === '42703') {
        // The table or a column vanished behind our back (restored database, manual DROP): prepare again next time.
        this.#prepared.delete(preparedKey(batch.dataset));
        return retryable(`postgres: ${table.qualified} changed under the sink (${describePgError(error)}); it will be prepared again`, 1_000);
      }
      return this.#outcomeOf(error, `writing ${batch.records.length} rows to ${table.qualified}`);
    } finally {
      this.#release(client, broken);
    }
  }

  /**
   * The fast path, for a batch seen for the first time: COPY straight into the table (about twice as fast as
   * staging and INSERT … SELECT here), in binary format so the server does not parse timestamps and numbers
   * (see copy-binary.ts). Any id already present (a replay), or any value the table refuses, aborts the COPY:
   * it is rolled back to its savepoint and the caller takes the staged, idempotent path.
   */
  async #copyDirect(client: pg.PoolClient, table: PreparedTable, rows: Buffer): Promise<boolean> {
    const targets = [...ENVELOPE_COLUMNS, ...table.columns.map((c) => c.column)].map(quoteIdent).join(', ');
    await client.query('SAVEPOINT sluice_direct');
    try {
      await pipeline(Readable.from([rows]), client.query(copyFrom(`COPY ${table.qualified} (${targets}) FROM STDIN (FORMAT binary)`)));
      await client.query('RELEASE SAVEPOINT sluice_direct');
      return true;
    } catch (error) {
      if (classifyPgError(error) !== 'data') throw error;
      await client.query('ROLLBACK TO SAVEPOINT sluice_direct');
      return false;
    }
  }

  async flush(): Promise<void> {
    // Every write commits before it resolves: nothing is buffered.
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  /** Table name the dataset's rows land in (schema-qualified, quoted). */
  tableFor(dataset: DatasetVersion): string {
    return `${quoteIdent(this.#schema)}.${quoteIdent(dataset.spec.sinks.postgres?.table ?? dataset.spec.name)}`;
  }

  /**
   * Inserts staged rows n ∈ [lo, hi]. On a data error the range is halved under savepoints until the bad
   * rows stand alone: a few extra statements per bad row, nothing extra when the batch is clean.
   */
  async #insertIsolating(
    client: pg.PoolClient,
    table: PreparedTable,
    lo: number,
    hi: number,
    rows: readonly Envelope[],
    rejected: Array<{ id: string; reason: string }>,
    inserted: Set<string> | undefined,
  ): Promise<void> {
    await client.query('SAVEPOINT sluice_rows');
    try {
      const result = await client.query<{ id: string }>(insertSql(table, lo, hi, inserted !== undefined));
      if (inserted) for (const row of result.rows) inserted.add(row.id);
      await client.query('RELEASE SAVEPOINT sluice_rows');
      return;
    } catch (error) {
      if (classifyPgError(error) !== 'data') throw error;
      await client.query('ROLLBACK TO SAVEPOINT sluice_rows');
      await client.query('RELEASE SAVEPOINT sluice_rows');
      if (lo === hi) {
        rejected.push({ id: rows[lo]?.id ?? '', reason: `postgres rejected the row: ${describePgError(error)}` });
        return;
      }
    }
    const mid = Math.floor((lo + hi) / 2);
    await this.#insertIsolating(client, table, lo, mid, rows, rejected, inserted);
    await this.#insertIsolating(client, table, mid + 1, hi, rows, rejected, inserted);
  }

  async #prepare(dataset: DatasetVersion): Promise<PreparedTable> {
    const tableName = dataset.spec.sinks.postgres?.table ?? dataset.spec.name;
    const qualified = this.tableFor(dataset);
    const wanted = typedColumns(dataset.schema);
    const client = await this.#checkout();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      // Two preparations at once would race on the catalog rows of CREATE SCHEMA (two datasets' first batches)
      // and CREATE TABLE (two consumers, one dataset): one at a time per data schema; preparing is rare.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice-prepare:${this.#schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.#schema)}`);
      // Ids are opaque: byte order ("C") compares fastest and does not depend on the database's locale.
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${qualified} (id text COLLATE "C" PRIMARY KEY, event_time timestamptz NOT NULL, ingest_time timestamptz NOT NULL, agent_id text NOT NULL, schema_version int, payload jsonb NOT NULL)`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(tableName, 'event_time'))} ON ${qualified} (event_time)`);
      // The ledger counts rows per agent and minute of ingest time over a time range (all agents, or one).
      await client.query(`CREATE INDEX IF NOT EXISTS ${quoteIdent(indexName(tableName, 'ingest_agent'))} ON ${qualified} (ingest_time, agent_id)`);
      const existing = await client.query<{ attname: string; type: string }>(
        `SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [qualified],
      );
      const have = new Map(existing.rows.map((r) => [r.attname, r.type]));
      // New schema versions only ever add columns: a column is never dropped or retyped here, whatever the schema says.
      const missing = wanted.filter((c) => !have.has(c.column));
      if (missing.length > 0) {
        await client.query(`ALTER TABLE ${qualified} ${missing.map((c) => `ADD COLUMN IF NOT EXISTS ${quoteIdent(c.column)} ${c.type}`).join(', ')}`);
        for (const c of missing) {
          await client.query(`COMMENT ON COLUMN ${qualified}.${quoteIdent(c.column)} IS ${quoteLiteral(`payload property ${JSON.stringify(c.property)}`)}`);
        }
      }
      await client.query('COMMIT');
      const columns = wanted.map((c) => {
        const actual = have.get(c.column) ?? FORMAT_TYPE_NAMES[c.type] ?? c.type;
        if (actual !== (FORMAT_TYPE_NAMES[c.type] ?? c.type)) {
          this.#logger.warn({ table: qualified, column: c.column, schemaType: c.type, tableType: actual }, 'schema retyped a column; keeping the table type');
        }
        return { ...c, castType: actual, copyField: copyFieldFor(actual) };
      });
      const prepared = { qualified, columns };
      this.#prepared.set(preparedKey(dataset), prepared);
      if (missing.length > 0) this.#logger.info({ table: qualified, added: missing.map((c) => c.column), version: dataset.version }, 'table evolved');
      return prepared;
    } catch (error) {
      if (classifyPgError(error) === 'retryable') broken = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      this.#release(client, broken);
    }
  }

  /**
   * A checked-out client has no pool listener: when the server goes away between two queries node-postgres
   * emits 'error' on the client, which would be an uncaught exception. The next query reports the failure.
   */
  async #checkout(): Promise<pg.PoolClient> {
    const client = await this.#pool.connect();
    client.on('error', this.#onClientError);
    return client;
  }

  /** Passing an error destroys the connection instead of returning a possibly dead one to the pool. */
  #release(client: pg.PoolClient, broken: Error | undefined): void {
    client.removeListener('error', this.#onClientError);
    client.release(broken);
  }

  readonly #onClientError = (error: Error): void => {
    this.#logger.debug({ err: describePgError(error) }, 'PostgreSQL connection lost while checked out');
  };

  #outcomeOf(error: unknown, doing: string): Outcome {
    const kind = classifyPgError(error);
    const reason = `postgres: ${doing}: ${describePgError(error)}`;
    if (kind === 'fatal') this.#logger.error({ err: describePgError(error) }, `postgres sink failed ${doing}`);
    return kind === 'retryable' ? retryable(reason, 1_000) : failed(reason);
  }
}

/**
 * Binary COPY data for the table itself (envelope columns, payload, typed columns), or undefined as soon as
 * one value does not plainly fit its column. This runs for every row of every batch.
 */
function directRows(envelopes: readonly Envelope[], columns: readonly PreparedColumn[], version: number): Buffer | undefined {
  const out = new CopyBinaryWriter(envelopes.length * 256);
  const fields = ENVELOPE_COLUMNS.length + columns.length;
  for (const e of envelopes) {
    const schemaVersion = e.schemaVersion ?? version;
    // The staged path's column is int: a version beyond it is that path's error to report.
    if (schemaVersion > MAX_INT4) return undefined;
    out.row(fields);
    out.text(e.id);
    if (!out.timestamptz(e.eventTime) || !out.timestamptz(e.ingestTime)) return undefined;
    out.text(e.agentId);
    out.int4(schemaVersion);
    out.jsonb(JSON.stringify(e.payload ?? null));
    const payload = typeof e.payload === 'object' && e.payload !== null && !Array.isArray(e.payload) ? (e.payload as Record<string, unknown>) : NO_PROPERTIES;
    for (const c of columns) if (!c.copyField(out, payload[c.property])) return undefined;
  }
  return out.finish();
}

/** The envelope of each id the INSERT reported new; of a batch carrying an id twice, the first (the one stored). */
function firstOfEach(envelopes: readonly Envelope[], inserted: ReadonlySet<string>): Envelope[] {
  const pending = new Set(inserted);
  return envelopes.filter((e) => pending.delete(e.id));
}

const MAX_INT4 = 2_147_483_647;
const NO_PROPERTIES: Record<string, unknown> = {};

function preparedKey(dataset: DatasetVersion): string {
  return `${dataset.spec.sinks.postgres?.table ?? dataset.spec.name}@${dataset.version}`;
}

function indexName(table: string, column: string): string {
  return `${table.slice(0, 63 - column.length - 5)}_${column}_idx`;
}

function insertSql(table: PreparedTable, lo: number, hi: number, returning: boolean): string {
  const targets = ['id', 'event_time', 'ingest_time', 'agent_id', 'schema_version', 'payload', ...table.columns.map((c) => c.column)];
  const values = [
    'id',
    'event_time::timestamptz',
    'ingest_time::timestamptz',
    'agent_id',
    'schema_version',
    'p',
    ...table.columns.map((c) => castExpression(c.property, c.castType, 'p')),
  ];
  // OFFSET 0 keeps the subquery from being flattened, so each payload is parsed as jsonb once, not per column.
  return (
    `INSERT INTO ${table.qualified} (${targets.map(quoteIdent).join(', ')}) ` +
    `SELECT ${values.join(', ')} FROM (SELECT id, event_time, ingest_time, agent_id, schema_version, payload::jsonb AS p ` +
    `FROM ${STAGE} WHERE n BETWEEN ${lo} AND ${hi} OFFSET 0) s ON CONFLICT (id) DO NOTHING${returning ? ' RETURNING id' : ''}`
  );
}
