/**
 * What the dataset screens show, as pure functions of a dataset: where each store keeps its records (the
 * defaults applied by the same code the control plane checks locations with), the fields of a payload
 * schema, and the proposed-version editor's reading of its text.
 */
import { storeLocations, type StoreKind } from '@sluice/shared/dataset-locations';
import type { DatasetSpec } from '@sluice/shared/dataset';
import type { PayloadSchema } from '../../api/datasets.ts';

export const STORE_NAMES: Record<StoreKind, string> = { postgres: 'PostgreSQL', search: 'Search', objectStore: 'Object store' };
const STORES = Object.keys(STORE_NAMES) as StoreKind[];

export interface SinkRow {
  store: StoreKind;
  enabled: boolean;
  /** Where its records land; empty for a store the dataset does not enable. */
  location: string;
  /** How, beyond where: partitions, hash buckets. */
  details: string;
}

/** One row per store, enabled or not, in a fixed order. */
export function sinkRows(spec: DatasetSpec): SinkRow[] {
  const locations = new Map(storeLocations(spec).map((l) => [l.store, l.location]));
  return STORES.map((store) => {
    const location = locations.get(store);
    if (location === undefined) return { store, enabled: false, location: '', details: '' };
    return { store, enabled: true, location: locationText(store, location), details: store === 'objectStore' ? objectStoreDetails(spec) : '' };
  });
}

function locationText(store: StoreKind, location: string): string {
  if (store === 'postgres') return `table ${location}`;
  if (store === 'search') return `indices ${location}-YYYY.MM.DD`;
  return `${location}/dt=…/`;
}

function objectStoreDetails(spec: DatasetSpec): string {
  const sink = spec.sinks.objectStore;
  const parts = [sink?.partitionBy === 'day' ? 'daily partitions' : 'hourly partitions', 'gzip NDJSON'];
  if (sink?.hash) parts.push(`bucket = hash(${sink.hash.field}) mod ${String(sink.hash.buckets)}`);
  return parts.join(', ');
}

/** The list's short form: the enabled stores, or `none` (records are validated and counted only). */
export function sinksSummary(spec: DatasetSpec): string {
  const enabled = sinkRows(spec).filter((r) => r.enabled);
  return enabled.length === 0 ? 'none' : enabled.map((r) => STORE_NAMES[r.store]).join(', ');
}

export interface SchemaField {
  /** Dotted, as the compatibility report names fields: `location.lat`. */
  path: string;
  type: string;
  required: boolean;
  description: string;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function typeText(schema: Json): string {
  if (typeof schema.type === 'string') return schema.type;
  if (Array.isArray(schema.type)) return schema.type.map(String).join(' | ');
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if ('const' in schema) return `= ${JSON.stringify(schema.const)}`;
  if (typeof schema.$ref === 'string') return schema.$ref;
  return 'any';
}

/**
 * The payload's fields, nested objects as dotted paths below their parent, siblings by name: the control
 * plane keeps schemas as PostgreSQL jsonb, which does not keep the order the keys were written in.
 */
export function schemaFields(schema: PayloadSchema, prefix = ''): SchemaField[] {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
  const byName = Object.entries(properties).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return byName.flatMap(([name, sub]) => {
    const field = isObject(sub) ? sub : {};
    const path = `${prefix}${name}`;
    const own: SchemaField = { path, type: typeText(field), required: required.has(name), description: typeof field.description === 'string' ? field.description : '' };
    return [own, ...(isObject(field.properties) ? schemaFields(field, `${path}.`) : [])];
  });
}

export type SchemaText = { ok: true; schema: PayloadSchema } | { ok: false; problem: string };

/** The editor's text as a schema to check: JSON, and an object (the server checks the rest). */
export function readSchemaText(text: string): SchemaText {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `Not valid JSON: ${(error as Error).message}` };
  }
  if (!isObject(parsed)) return { ok: false, problem: 'A schema is a JSON object: { "type": "object", "properties": { … } }' };
  return { ok: true, schema: parsed };
}

export const schemaText = (schema: PayloadSchema): string => `${JSON.stringify(schema, null, 2)}\n`;
