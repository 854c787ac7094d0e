/**
 * Compares two JSON Schemas (draft 2020-12) of a dataset's payload, field by field. Only `properties`,
 * `required` and `type` are compared: they decide the columns of the PostgreSQL table and what old
 * records look like, which is what a new version must stay compatible with.
 *
 * Compatible (`compatible`, publishing needs no `force`): adding an optional field, making a required field
 * optional, widening a field's type (string → string | integer | null, integer → number, any type → no type).
 * Incompatible (refused unless forced): dropping a field, narrowing or otherwise changing a field's type,
 * making an optional field required, adding a required field (old records lack it).
 *
 * Each change also says whether it is `backward` compatible (readers of the new schema accept records of the
 * old one) and `forward` compatible (readers of the old schema accept records of the new one).
 */
export type ChangeType = 'ADD_COLUMN' | 'DROP_COLUMN' | 'CHANGE_TYPE' | 'MAKE_REQUIRED' | 'MAKE_OPTIONAL';

export interface SchemaChange {
  type: ChangeType;
  /** Dotted field path, e.g. `location.lat`. */
  path: string;
  compatible: boolean;
  /** Records of the old schema are valid under the new one (as far as this field goes). */
  backward: boolean;
  /** Records of the new schema are valid under the old one. */
  forward: boolean;
  /** The field's types before and after (CHANGE_TYPE; `|`-joined, `any` without a type). */
  from?: string;
  to?: string;
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

const ALL_TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];

/** The JSON values a field's `type` admits, as type names (`number` admits integers too); undefined: not a plain type. */
function admitted(schema: JsonObject): Set<string> | undefined {
  const t = schema.type;
  const list = typeof t === 'string' ? [t] : Array.isArray(t) ? (t as unknown[]).map(String) : Array.isArray(schema.enum) || 'const' in schema ? undefined : ALL_TYPES;
  if (list === undefined) return undefined;
  const set = new Set(list);
  if (set.has('number')) set.add('integer');
  return set;
}

function subset(a: Set<string>, b: Set<string>): boolean {
  for (const x of a) if (!b.has(x)) return false;
  return true;
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
      // Old records carry the field (ignored by new readers); new records lack it, which old readers accept only if it was optional.
      changes.push({ type: 'DROP_COLUMN', path, compatible: false, backward: true, forward: !oldRequired.has(name), detail: `field ${path} was removed` });
      continue;
    }
    const from = typeOf(oldField);
    const to = typeOf(newField);
    if (from !== to) {
      const oldSet = admitted(oldField);
      const newSet = admitted(newField);
      const backward = oldSet !== undefined && newSet !== undefined && subset(oldSet, newSet);
      const forward = oldSet !== undefined && newSet !== undefined && subset(newSet, oldSet);
      const how = backward ? 'was widened' : forward ? 'was narrowed' : 'changed type';
      changes.push({ type: 'CHANGE_TYPE', path, compatible: backward, backward, forward, from, to, detail: `field ${path} ${how} from ${from} to ${to}` });
    } else if (from === 'object') {
      compareObject(oldField, newField, `${path}.`, changes);
    }
    if (!oldRequired.has(name) && newRequired.has(name)) {
      changes.push({ type: 'MAKE_REQUIRED', path, compatible: false, backward: false, forward: true, detail: `optional field ${path} became required` });
    } else if (oldRequired.has(name) && !newRequired.has(name)) {
      changes.push({ type: 'MAKE_OPTIONAL', path, compatible: true, backward: true, forward: false, detail: `required field ${path} became optional` });
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
      backward: !required,
      forward: true,
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
