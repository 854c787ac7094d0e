/**
 * Compares two JSON Schemas (draft 2020-12) of a dataset's payload, field by field. Only `properties`,
 * `required` and `type` are compared: they decide the columns of the PostgreSQL table and what old
 * records look like, which is what a new version must stay compatible with.
 *
 * Compatible: adding an optional field. Incompatible (refused unless forced): dropping a field, changing
 * a field's type, making an optional field required, adding a required field (old records lack it).
 */
export type ChangeType = 'ADD_COLUMN' | 'DROP_COLUMN' | 'CHANGE_TYPE' | 'MAKE_REQUIRED';

export interface SchemaChange {
  type: ChangeType;
  /** Dotted field path, e.g. `location.lat`. */
  path: string;
  compatible: boolean;
  /** What changed, in words. */
  detail: string;
}

export interface CompatibilityReport {
  compatible: boolean;
  changes: SchemaChange[];
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function properties(schema: JsonObject): Record<string, JsonObject> {
  const props = schema.properties;
  if (!isObject(props)) return {};
  const out: Record<string, JsonObject> = {};
  for (const [name, sub] of Object.entries(props)) out[name] = isObject(sub) ? sub : {};
  return out;
}

function requiredSet(schema: JsonObject): Set<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
}

/** The field's types as a sorted list ('any' when the schema does not say). */
function typeOf(schema: JsonObject): string {
  const t = schema.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t as unknown[]).map(String).sort().join('|');
  if (Array.isArray(schema.enum)) return 'enum';
  if ('const' in schema) return 'const';
  return 'any';
}

function compareObject(before: JsonObject, after: JsonObject, prefix: string, changes: SchemaChange[]): void {
  const oldProps = properties(before);
  const newProps = properties(after);
  const oldRequired = requiredSet(before);
  const newRequired = requiredSet(after);

  for (const [name, oldField] of Object.entries(oldProps)) {
    const path = prefix + name;
    const newField = newProps[name];
    if (newField === undefined) {
      changes.push({ type: 'DROP_COLUMN', path, compatible: false, detail: `field ${path} was removed` });
      continue;
    }
    const from = typeOf(oldField);
    const to = typeOf(newField);
    if (from !== to) {
      changes.push({ type: 'CHANGE_TYPE', path, compatible: false, detail: `field ${path} changed type from ${from} to ${to}` });
    } else if (from === 'object') {
      compareObject(oldField, newField, `${path}.`, changes);
    }
    if (!oldRequired.has(name) && newRequired.has(name)) {
      changes.push({ type: 'MAKE_REQUIRED', path, compatible: false, detail: `optional field ${path} became required` });
    }
  }
  for (const [name, newField] of Object.entries(newProps)) {
    if (name in oldProps) continue;
    const path = prefix + name;
    const required = newRequired.has(name);
    changes.push({
      type: 'ADD_COLUMN',
      path,
      compatible: !required,
      detail: required
        ? `new field ${path} (${typeOf(newField)}) is required, but records written before lack it`
        : `new optional field ${path} (${typeOf(newField)})`,
    });
  }
}

export function compareSchemas(before: JsonObject, after: JsonObject): CompatibilityReport {
  const changes: SchemaChange[] = [];
  compareObject(before, after, '', changes);
  return { compatible: changes.every((c) => c.compatible), changes };
}
