/**
 * Types the fields of a CSV row by the dataset's schema before it is validated. CSV has no types: the drop
 * source sends every field as a string, so `latitude: {type: number}` would refuse every row. The rules:
 *
 *   field declared           CSV text           becomes
 *   string (alone or not)    anything           the same string ("007" stays "007")
 *   number                   12, -1.5, 1e3      the number (surrounding spaces ignored)
 *   integer                  42, -7, 5.0        the number, if whole
 *   (number and integer: within ±(2^53 − 1), the range every store keeps exactly)
 *   boolean                  true / false       the boolean (any letter case)
 *   allows null              empty              null
 *   anything else            -                  left as it is (undeclared fields stay strings)
 *
 * A field that does not convert refuses the row with a reason naming the field and its value. ajv's
 * `coerceTypes` is not used: it turns "0x10" into 16, "Infinity" into Infinity (stored as null), an empty
 * number field into 0 where null is allowed second, and applies inside every combinator.
 */
type JsonObject = Record<string, unknown>;
type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'null' | 'object' | 'array';
type Types = ReadonlySet<FieldType>;

export type CsvRow = { ok: true; payload: unknown } | { ok: false; reason: string };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN = /^(?:true|false)$/i;
const FIELD_TYPES = new Set<string>(['string', 'number', 'integer', 'boolean', 'null', 'object', 'array']);

function jsonTypeOf(value: unknown): FieldType {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'string') return 'string';
  return typeof value === 'boolean' ? 'boolean' : 'object';
}

/** The types a (sub)schema admits, as far as `type`, a local `$ref`, `enum`/`const` and combinators say. */
function declaredTypes(schema: unknown, root: JsonObject, depth = 0): Types | undefined {
  if (!isObject(schema) || depth > 16) return undefined;
  const { type } = schema;
  if (typeof type === 'string' || Array.isArray(type)) {
    const list = (Array.isArray(type) ? type : [type]).filter((t): t is FieldType => typeof t === 'string' && FIELD_TYPES.has(t));
    return new Set(list);
  }
  if (typeof schema.$ref === 'string') {
    const match = /^#\/(\$defs|definitions)\/([^/]+)$/.exec(schema.$ref);
    const defs = match ? root[match[1]!] : undefined;
    const name = match?.[2]?.replace(/~1/g, '/').replace(/~0/g, '~');
    if (isObject(defs) && name !== undefined && Object.hasOwn(defs, name)) return declaredTypes(defs[name], root, depth + 1);
  }
  if (Array.isArray(schema.enum)) return new Set((schema.enum as unknown[]).map(jsonTypeOf));
  if (Object.hasOwn(schema, 'const')) return new Set([jsonTypeOf(schema.const)]);
  for (const k of ['anyOf', 'oneOf'] as const) {
    const branches = schema[k];
    if (!Array.isArray(branches)) continue;
    const union = new Set<FieldType>();
    for (const branch of branches) {
      const types = declaredTypes(branch, root, depth + 1);
      if (!types) return undefined;
      for (const t of types) union.add(t);
    }
    return union;
  }
  return undefined;
}

/** The field's value for the schema, or why it cannot have one. */
function typeField(text: string, types: Types | undefined): { value: unknown } | { problem: string } {
  if (types === undefined) return { value: text };
  if (text === '' && types.has('null')) return { value: null };
  if (types.has('string')) return { value: text };
  const trimmed = text.trim();
  const wanted = [...types].filter((t) => t !== 'null').join(' or ');
  if (trimmed === '') return types.has('null') ? { value: null } : { problem: `is empty, but must be ${wanted}` };
  if ((types.has('number') || types.has('integer')) && NUMBER.test(trimmed)) {
    const n = Number(trimmed);
    // The range every store keeps exactly, the same limit records from other sources are held to.
    if (!(Math.abs(n) <= Number.MAX_SAFE_INTEGER)) return { problem: `${JSON.stringify(text)} is beyond ±(2^53 − 1); declare the field a string to keep it exactly` };
    if (types.has('number')) return { value: n };
    if (!Number.isInteger(n)) return { problem: `${JSON.stringify(text)} is not an integer` };
    return { value: n };
  }
  if (types.has('boolean') && BOOLEAN.test(trimmed)) return { value: trimmed.toLowerCase() === 'true' };
  if (types.has('number') || types.has('integer') || types.has('boolean')) return { problem: `${JSON.stringify(text)} is not ${wanted === 'integer' ? 'an' : 'a'} ${wanted}` };
  return { value: text };
}

const pointer = (key: string | number): string => `/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/**
 * The typing of one schema's CSV rows, worked out once. A row is an object (header or configured columns)
 * or, without either, an array of fields (typed by `prefixItems` / `items`).
 */
export function csvTyping(schema: JsonObject): (payload: unknown) => CsvRow {
  // Maps, not objects: a column named `constructor` or `__proto__` is a column like any other.
  const byName = new Map<string, Types | undefined>();
  if (isObject(schema.properties)) {
    for (const [name, sub] of Object.entries(schema.properties)) byName.set(name, declaredTypes(sub, schema));
  }
  const otherFields = declaredTypes(schema.additionalProperties, schema);
  const positional = Array.isArray(schema.prefixItems) ? (schema.prefixItems as unknown[]).map((s) => declaredTypes(s, schema)) : [];
  const restItems = declaredTypes(schema.items, schema);

  return (payload) => {
    const problems: string[] = [];
    const type = (key: string | number, value: unknown, types: Types | undefined): unknown => {
      if (typeof value !== 'string') return value;
      const typed = typeField(value, types);
      if ('problem' in typed) {
        problems.push(`${pointer(key)}: ${typed.problem}`);
        return value;
      }
      return typed.value;
    };
    let out: unknown = payload;
    if (Array.isArray(payload)) {
      out = payload.map((v: unknown, i) => type(i, v, i < positional.length ? positional[i] : restItems));
    } else if (isObject(payload)) {
      out = Object.fromEntries(Object.entries(payload).map(([k, v]) => [k, type(k, v, byName.has(k) ? byName.get(k) : otherFields)]));
    }
    return problems.length === 0 ? { ok: true, payload: out } : { ok: false, reason: `CSV field ${problems.join('; CSV field ')}` };
  };
}

/**
 * Whether an envelope's payload is a CSV row: the drop source says `format: csv` in the source position;
 * agents from before it said so only by the file's extension (their default `format: auto` went by it).
 */
export function isCsvRow(source: { kind: string; [key: string]: unknown }): boolean {
  if (source.kind !== 'drop') return false;
  if (source.format !== undefined) return source.format === 'csv';
  return typeof source.file === 'string' && /\.(csv|tsv)$/i.test(source.file);
}
