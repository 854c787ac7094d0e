/**
 * Typed columns derived from a dataset's JSON Schema (its top-level properties). The whole payload is kept as
 * jsonb as well, so a column is a convenience for queries and indexes, never the only copy of a value.
 */
import { createHash } from 'node:crypto';
import type { CopyBinaryWriter } from './copy-binary.ts';

export type PgType = 'text' | 'timestamptz' | 'bigint' | 'double precision' | 'boolean' | 'jsonb';

export interface TypedColumn {
  /** The payload property the column is filled from. */
  property: string;
  /** The column's name, unquoted (always pass it through `quoteIdent`). */
  column: string;
  type: PgType;
}

/** The envelope's own columns; a payload property with one of these names gets a suffixed column. */
export const ENVELOPE_COLUMNS = ['id', 'event_time', 'ingest_time', 'agent_id', 'schema_version', 'payload'] as const;

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_IDENT_BYTES = 63;

/**
 * Deterministic from the property name alone (not from its neighbours or the schema version), so every
 * version of a schema maps a property to the same column. Names that are already plain identifiers are kept
 * as they are (quoted, so `userId` stays `userId`); anything else is sanitised and gets a short hash of the
 * original name, which keeps `a-b` and `a_b` apart.
 */
export function columnName(property: string): string {
  const reserved = (ENVELOPE_COLUMNS as readonly string[]).includes(property.toLowerCase());
  if (PLAIN_NAME.test(property) && property.length <= MAX_IDENT_BYTES && !reserved) return property;
  const hash = createHash('sha256').update(property).digest('hex').slice(0, 8);
  let base = property.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (base === '' || /^[0-9]/.test(base)) base = `f_${base}`;
  return `${base.slice(0, MAX_IDENT_BYTES - hash.length - 1)}_${hash}`;
}

/** JSON Schema `type` (possibly `[T, "null"]`) and `format` → PostgreSQL type; anything ambiguous is jsonb. */
export function pgTypeOf(schema: unknown): PgType {
  if (typeof schema !== 'object' || schema === null) return 'jsonb';
  const s = schema as { type?: unknown; format?: unknown };
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t !== 'null' && t !== undefined);
  if (types.length !== 1) return 'jsonb';
  switch (types[0]) {
    case 'string':
      return s.format === 'date-time' ? 'timestamptz' : 'text';
    case 'integer':
      return 'bigint';
    case 'number':
      return 'double precision';
    case 'boolean':
      return 'boolean';
    default:
      return 'jsonb';
  }
}

/** Columns for a schema's top-level properties, in a stable (sorted) order. */
export function typedColumns(schema: Record<string, unknown>): TypedColumn[] {
  const properties = schema.properties;
  if (typeof properties !== 'object' || properties === null) return [];
  return Object.entries(properties as Record<string, unknown>)
    .map(([property, sub]) => ({ property, column: columnName(property), type: pgTypeOf(sub) }))
    .sort((a, b) => (a.column < b.column ? -1 : a.column > b.column ? 1 : 0));
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A SQL string literal; only for identifiers-as-data (jsonb keys) built here, never for record values. */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The expression reading a property out of the staged payload, cast to its column type. Casting happens in
 * SQL so a value the schema allowed but the type refuses (`"not a date"` for a date-time whose format was
 * not enforced) fails as a row-level data error, which the sink isolates.
 */
export function castExpression(property: string, sqlType: string, payloadRef: string): string {
  const key = quoteLiteral(property);
  if (sqlType === 'jsonb') return `(${payloadRef} -> ${key})`;
  return `(${payloadRef} ->> ${key})::${sqlType}`;
}

/**
 * Writes a payload value as the binary COPY field of a column of one type, producing what `castExpression`
 * would store (undefined and null are SQL NULL). False, with nothing written, when the value does not
 * plainly fit the column (a number for a text column, a timestamp only the server can read): the caller
 * then takes the path that casts in SQL instead.
 */
export type CopyField = (out: CopyBinaryWriter, value: unknown) => boolean;

/** SQL NULL for undefined and null; anything else is up to `write`. */
function nullOr(write: CopyField): CopyField {
  return (out, value) => {
    if (value !== undefined && value !== null) return write(out, value);
    out.null();
    return true;
  };
}

const text = nullOr((out, value) => {
  if (typeof value !== 'string') return false;
  out.text(value);
  return true;
});
const timestamptz = nullOr((out, value) => typeof value === 'string' && out.timestamptz(value));

const COPY_FIELDS = new Map<string, CopyField>([
  [
    'jsonb',
    (out, value) => {
      // JSON null is the jsonb value null; only a missing property is SQL NULL.
      if (value === undefined) out.null();
      else out.jsonb(JSON.stringify(value));
      return true;
    },
  ],
  ['text', text],
  ['timestamp with time zone', timestamptz],
  ['timestamptz', timestamptz],
  [
    'bigint',
    nullOr((out, value) => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return false;
      out.int8(value);
      return true;
    }),
  ],
  [
    'double precision',
    nullOr((out, value) => {
      if (typeof value !== 'number') return false;
      out.float8(value);
      return true;
    }),
  ],
  [
    'boolean',
    nullOr((out, value) => {
      if (typeof value !== 'boolean') return false;
      out.bool(value);
      return true;
    }),
  ],
]);

/** A type with no binary form here: only SQL NULL goes straight in. */
const onlyNull = nullOr(() => false);

/** The field writer for a column of `sqlType` (how `format_type` spells it), chosen once per table. */
export function copyFieldFor(sqlType: string): CopyField {
  return COPY_FIELDS.get(sqlType) ?? onlyNull;
}
