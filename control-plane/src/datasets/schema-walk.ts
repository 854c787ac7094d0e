/**
 * Visits every subschema of a JSON Schema (draft 2020-12, and draft 7's `definitions`, `dependencies`,
 * `additionalItems`), with its JSON pointer. Only schema positions: an object inside `enum`, `const`,
 * `default` or `examples` is data, not a schema.
 */
type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

export const pointer = (path: string, key: string | number): string => `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;

/** Keywords whose value is a schema, a list of schemas, or a map of names to schemas. */
const SCHEMA_KEYWORDS = ['additionalProperties', 'items', 'additionalItems', 'contains', 'propertyNames', 'if', 'then', 'else', 'not', 'unevaluatedItems', 'unevaluatedProperties'];
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'items'];
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];

export function forEachSubschema(schema: unknown, visit: (node: JsonObject, path: string) => void): void {
  // A work list, not recursion: a deeply nested schema cannot blow the stack.
  const pending: Array<{ node: unknown; path: string }> = [{ node: schema, path: '' }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, path } = next;
    if (!isObject(node)) continue;
    visit(node, path);
    for (const k of SCHEMA_KEYWORDS) if (Object.hasOwn(node, k)) pending.push({ node: node[k], path: pointer(path, k) });
    for (const k of SCHEMA_LIST_KEYWORDS) {
      const list = node[k];
      if (Object.hasOwn(node, k) && Array.isArray(list)) list.forEach((sub, i) => pending.push({ node: sub, path: pointer(pointer(path, k), i) }));
    }
    for (const k of SCHEMA_MAP_KEYWORDS) {
      const map = node[k];
      if (!Object.hasOwn(node, k) || !isObject(map)) continue;
      for (const [name, sub] of Object.entries(map)) pending.push({ node: sub, path: pointer(pointer(path, k), name) });
    }
  }
}
