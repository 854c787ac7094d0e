/**
 * GET /api/v1/analytics/{dataset}/records: a dataset's records in its PostgreSQL table by event-time range,
 * with filters on its typed columns (`column:op:value`, each value checked against the column's type before
 * it reaches SQL, always as a parameter), in (event_time, id) order with a keyset cursor. Served by the
 * event_time index the PostgreSQL sink creates.
 */
import type pg from 'pg';
import { type RECORD_FILTER_OPS, type RecordsQuery, type RecordsResponse } from '@sluice/shared/api/analytics';
import type { DatasetVersion } from '@sluice/shared/dataset';
import { InputError, NotFoundError } from '@sluice/shared/errors';
import { quoteIdent, typedColumns, type PgType } from '../sinks/postgres/columns.ts';
import { timeRange } from './analytics-queries.ts';

const SQL_OP: Record<(typeof RECORD_FILTER_OPS)[number], string> = { eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=' };

export interface RecordQueryDeps {
  pool: pg.Pool;
  /** The schema of the datasets' tables (SLUICE_DATA_SCHEMA). */
  dataSchema: () => string;
  datasets: { latest(name: string): Promise<DatasetVersion | undefined> };
  now?: () => number;
}

/** A filter value as the column's type takes it; anything else is the caller's mistake (400). */
function typedValue(column: string, type: PgType, raw: string): string | number | boolean {
  switch (type) {
    case 'bigint':
      if (!/^-?\d{1,18}$/.test(raw)) throw InputError(`filter on ${column}: ${JSON.stringify(raw)} is not an integer`);
      return raw;
    case 'double precision': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n)) throw InputError(`filter on ${column}: ${JSON.stringify(raw)} is not a number`);
      return n;
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw InputError(`filter on ${column}: ${JSON.stringify(raw)} is not true or false`);
      return raw === 'true';
    case 'timestamptz':
      if (Number.isNaN(Date.parse(raw))) throw InputError(`filter on ${column}: ${JSON.stringify(raw)} is not a date-time`);
      return new Date(raw).toISOString();
    case 'text':
      return raw;
    case 'jsonb':
      throw InputError(`column ${column} holds JSON (objects, arrays or mixed types): it cannot be filtered on`);
  }
}

/** PostgreSQL's own text of the event time (microseconds; a JS Date would cut them and skip rows). */
function encodeCursor(eventTime: string, id: string): string {
  return Buffer.from(JSON.stringify([eventTime, id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') return [value[0], value[1]];
  } catch {
    // falls through to the one answer for a cursor this route did not make
  }
  throw InputError('cursor is not one this route returned');
}

export async function queryRecords(deps: RecordQueryDeps, name: string, q: RecordsQuery): Promise<RecordsResponse> {
  const dataset = await deps.datasets.latest(name);
  if (!dataset) throw NotFoundError(`dataset ${name} does not exist`);
  const pgSpec = dataset.spec.sinks.postgres;
  if (pgSpec?.enabled !== true) throw NotFoundError(`dataset ${name} has no PostgreSQL sink: its records are queried in the stores it has`);
  const { from, to } = timeRange(q, deps.now?.() ?? Date.now());
  const columns = new Map<string, PgType>([['agent_id', 'text']]);
  for (const c of typedColumns(dataset.schema)) columns.set(c.column, c.type);
  const params: unknown[] = [new Date(from).toISOString(), new Date(to).toISOString()];
  const where = ['event_time >= $1', 'event_time < $2'];
  for (const filter of q.filter ?? []) {
    const [column = '', op = '', ...rest] = filter.split(':');
    const type = columns.get(column);
    if (type === undefined) throw InputError(`filter ${JSON.stringify(filter)}: no typed column ${JSON.stringify(column)} (filterable: ${[...columns.keys()].join(', ')})`);
    params.push(typedValue(column, type, rest.join(':')));
    where.push(`${quoteIdent(column)} ${SQL_OP[op as keyof typeof SQL_OP]} $${params.length}`);
  }
  if (q.cursor !== undefined) {
    const [time, id] = decodeCursor(q.cursor);
    params.push(time, id);
    where.push(`(event_time, id) > ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  const limit = q.limit ?? 100;
  const table = `${quoteIdent(deps.dataSchema())}.${quoteIdent(pgSpec.table ?? name)}`;
  let rows: Array<{ id: string; event_time: Date; ingest_time: Date; agent_id: string; payload: unknown; cursor_time: string }>;
  try {
    ({ rows } = await deps.pool.query(`SELECT id, event_time, ingest_time, agent_id, payload, event_time::text AS cursor_time FROM ${table} WHERE ${where.join(' AND ')} ORDER BY event_time, id LIMIT ${limit + 1}`, params));
  } catch (error) {
    // The table appears with the first record the sink writes.
    const code = (error as { code?: string }).code;
    if (code === '42P01') rows = [];
    else if (q.cursor !== undefined && (code === '22007' || code === '22008')) throw InputError('cursor is not one this route returned');
    else throw error;
  }
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    dataset: name,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    items: page.map((r) => ({ id: r.id, eventTime: r.event_time.toISOString(), ingestTime: r.ingest_time.toISOString(), agentId: r.agent_id, payload: r.payload })),
    nextCursor: rows.length > limit && last ? encodeCursor(last.cursor_time, last.id) : null,
  };
}
