/**
 * Parquet columns of a dataset (docs/lake.md): envelope fields as `_`-prefixed columns, then one typed column
 * per top-level property of the dataset's JSON schema. JSON types map to DuckDB/Parquet types: integer →
 * BIGINT, number → DOUBLE, boolean → BOOLEAN, string → VARCHAR (format date-time → TIMESTAMPTZ); a union of
 * one type with null is that type; objects, arrays and other unions are JSON text in a VARCHAR. Payload keys
 * the schema does not declare go to `_extra` (JSON text), so no value is lost.
 */
import type { Envelope } from '@sluice/shared/envelope';

export interface ParquetColumn {
  name: string;
  type: 'VARCHAR' | 'BIGINT' | 'DOUBLE' | 'BOOLEAN' | 'TIMESTAMPTZ' | 'INTEGER';
  /** Payload property this column holds; undefined for envelope columns. */
  property?: string;
  /** Stored as JSON text. */
  json?: boolean;
}

const ENVELOPE_COLUMNS: ParquetColumn[] = [
  { name: '_id', type: 'VARCHAR' },
  { name: '_event_time', type: 'TIMESTAMPTZ' },
  { name: '_ingest_time', type: 'TIMESTAMPTZ' },
  { name: '_agent_id', type: 'VARCHAR' },
  { name: '_schema_version', type: 'INTEGER' },
  /** The other envelope fields (source, blob, parseError, …) as JSON text. */
  { name: '_meta', type: 'VARCHAR', json: true },
  { name: '_extra', type: 'VARCHAR', json: true },
];

function typeOf(schema: unknown): Pick<ParquetColumn, 'type' | 'json'> {
  if (typeof schema !== 'object' || schema === null) return { type: 'VARCHAR', json: true };
  const s = schema as { type?: unknown; format?: unknown };
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t !== 'null');
  if (types.length !== 1) return { type: 'VARCHAR', json: true };
  switch (types[0]) {
    case 'integer': return { type: 'BIGINT' };
    case 'number': return { type: 'DOUBLE' };
    case 'boolean': return { type: 'BOOLEAN' };
    case 'string': return s.format === 'date-time' ? { type: 'TIMESTAMPTZ' } : { type: 'VARCHAR' };
    default: return { type: 'VARCHAR', json: true };
  }
}

export function parquetColumns(schema: unknown): ParquetColumn[] {
  const properties = (schema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
  const columns = [...ENVELOPE_COLUMNS];
  for (const [property, sub] of Object.entries(properties).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // A property named like an envelope column keeps its value in _extra rather than shadowing it.
    if (property.startsWith('_')) continue;
    columns.push({ name: property, property, ...typeOf(sub) });
  }
  return columns;
}

/** One envelope as the JSON row DuckDB reads with `columns` (JSON-text columns already stringified). */
export function rowOf(envelope: Envelope, columns: readonly ParquetColumn[]): Record<string, unknown> {
  const { id, eventTime, ingestTime, agentId, schemaVersion, payload, dataset: _dataset, ...meta } = envelope;
  const row: Record<string, unknown> = {
    _id: id, _event_time: eventTime, _ingest_time: ingestTime, _agent_id: agentId, _schema_version: schemaVersion ?? null,
    _meta: JSON.stringify(meta),
  };
  const isObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
  const rest: Record<string, unknown> = isObject ? { ...(payload as Record<string, unknown>) } : {};
  for (const c of columns) {
    if (c.property === undefined) continue;
    const value = rest[c.property];
    delete rest[c.property];
    row[c.name] = value === undefined || value === null ? null : c.json ? JSON.stringify(value) : value;
  }
  row._extra = isObject ? (Object.keys(rest).length === 0 ? null : JSON.stringify(rest)) : JSON.stringify(payload ?? null);
  return row;
}
