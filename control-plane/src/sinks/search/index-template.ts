/**
 * Index names and the index template derived from a dataset's JSON Schema. The same composable template
 * body (`PUT _index_template/<name>`) is accepted by Elasticsearch 8/9 and OpenSearch 2, which is why only
 * plain field types appear here (no `flattened`, which OpenSearch calls `flat_object`).
 */
import type { DatasetVersion } from '@sluice/shared/dataset';

export type Mapping = Record<string, unknown>;

export function indexPrefix(dataset: DatasetVersion): string {
  return dataset.spec.sinks.search?.index ?? `sluice-${dataset.spec.name}`;
}

/** `<prefix>-YYYY.MM.DD` of the UTC day of `time`; undefined when `time` is not a date. */
export function dailyIndex(prefix: string, time: string): string | undefined {
  const ms = Date.parse(time);
  if (Number.isNaN(ms)) return undefined;
  const iso = new Date(ms).toISOString();
  return `${prefix}-${iso.slice(0, 4)}.${iso.slice(5, 7)}.${iso.slice(8, 10)}`;
}

const MAX_DEPTH = 8;

/** The mapping of one JSON Schema node, or undefined to leave the field to dynamic mapping. */
export function fieldMapping(schema: unknown, depth = 0): Mapping | undefined {
  if (typeof schema !== 'object' || schema === null || depth > MAX_DEPTH) return undefined;
  const s = schema as { type?: unknown; format?: unknown; properties?: unknown; items?: unknown };
  const types = (Array.isArray(s.type) ? s.type : [s.type]).filter((t) => t !== 'null' && t !== undefined);
  if (types.length !== 1) return undefined;
  switch (types[0]) {
    case 'string':
      if (s.format === 'date-time' || s.format === 'date') return { type: 'date' };
      // keyword for exact match and aggregations, a text sub-field for full-text search.
      return { type: 'keyword', ignore_above: 1024, fields: { text: { type: 'text' } } };
    case 'integer':
      return { type: 'long' };
    case 'number':
      return { type: 'double' };
    case 'boolean':
      return { type: 'boolean' };
    case 'object':
      return { type: 'object', ...(typeof s.properties === 'object' && s.properties !== null ? { properties: propertiesMapping(s.properties, depth + 1) } : {}) };
    case 'array':
      // Search engines have no array type: a field holds one value or many of its item type.
      return fieldMapping(s.items, depth + 1);
    default:
      return undefined;
  }
}

function propertiesMapping(properties: object, depth: number): Record<string, Mapping> {
  const out: Record<string, Mapping> = {};
  for (const [name, sub] of Object.entries(properties)) {
    // A dot in a field name means a path to the engines; such a field is left to dynamic mapping.
    if (name.includes('.') || name.trim() === '') continue;
    const mapping = fieldMapping(sub, depth);
    if (mapping) out[name] = mapping;
  }
  return out;
}

/** The payload's mapping: declared properties typed, undeclared ones mapped dynamically. */
export function payloadMapping(schema: Record<string, unknown>): Mapping {
  const properties = typeof schema.properties === 'object' && schema.properties !== null ? propertiesMapping(schema.properties, 1) : {};
  return { type: 'object', dynamic: true, properties };
}

/** Envelope fields around the payload; unknown top-level fields are kept in _source but not indexed. */
export function documentMappings(schema: Record<string, unknown>): Mapping {
  const keyword = { type: 'keyword' };
  return {
    dynamic: false,
    properties: {
      '@timestamp': { type: 'date' },
      ingestTime: { type: 'date' },
      id: keyword,
      dataset: keyword,
      agentId: keyword,
      schemaVersion: { type: 'integer' },
      source: { type: 'object', dynamic: false, properties: { id: keyword, kind: keyword } },
      blob: {
        type: 'object',
        dynamic: false,
        properties: { key: keyword, size: { type: 'long' }, sha256: keyword, contentType: keyword, fileName: keyword },
      },
      parseError: { type: 'object', enabled: false },
      payload: payloadMapping(schema),
    },
  };
}

export interface TemplateOptions {
  shards?: number;
  replicas?: number;
  refreshInterval?: string;
}

export function indexTemplate(dataset: DatasetVersion, options: TemplateOptions = {}): Mapping {
  const prefix = indexPrefix(dataset);
  const settings: Record<string, unknown> = { number_of_shards: options.shards ?? 1 };
  if (options.replicas !== undefined) settings.number_of_replicas = options.replicas;
  if (options.refreshInterval !== undefined) settings.refresh_interval = options.refreshInterval;
  return {
    index_patterns: [`${prefix}-*`],
    // Both engines refuse two templates with overlapping patterns at the same priority. A longer prefix is
    // more specific and wins; two different prefixes of equal length cannot overlap (`a-*` vs `b-*`).
    priority: 100 + prefix.length,
    template: { settings, mappings: documentMappings(dataset.schema) },
    _meta: { managedBy: 'sluice', dataset: dataset.spec.name, schemaVersion: dataset.version },
  };
}
