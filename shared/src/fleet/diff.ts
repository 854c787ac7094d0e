/**
 * A structured diff between two configs, path by path, for the console and `GET policies/:name/diff`.
 * Arrays whose items all carry a unique string `id` (the sources) are matched by id, so inserting a source
 * shows one added source, not every later source changed: `sources[id=app-logs].include[0]`. Other arrays
 * are compared by position. A path whose value changed kind (object, array, scalar) is one `changed`.
 */
import { canonicalJson } from '../canonical-json.ts';

export type ConfigChange =
  | { op: 'added'; path: string; after: unknown }
  | { op: 'removed'; path: string; before: unknown }
  | { op: 'changed'; path: string; before: unknown; after: unknown };

export function diffConfigs(before: unknown, after: unknown): ConfigChange[] {
  const changes: ConfigChange[] = [];
  walk(before, after, '', changes);
  return changes;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

function walk(before: unknown, after: unknown, at: string, out: ConfigChange[]): void {
  if (canonicalJson(before) === canonicalJson(after)) return;
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      const path = at === '' ? key : `${at}.${key}`;
      if (!(key in after) || after[key] === undefined) out.push({ op: 'removed', path, before: before[key] });
      else if (!(key in before) || before[key] === undefined) out.push({ op: 'added', path, after: after[key] });
      else walk(before[key], after[key], path, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    if (keyedById(before) && keyedById(after)) walkById(before, after, at, out);
    else walkByIndex(before, after, at, out);
    return;
  }
  out.push({ op: 'changed', path: at === '' ? '(root)' : at, before, after });
}

function keyedById(items: unknown[]): items is (Json & { id: string })[] {
  const ids = new Set<string>();
  for (const item of items) {
    if (!isObject(item) || typeof item.id !== 'string' || ids.has(item.id)) return false;
    ids.add(item.id);
  }
  return true;
}

function walkById(before: (Json & { id: string })[], after: (Json & { id: string })[], at: string, out: ConfigChange[]): void {
  const afterById = new Map(after.map((item) => [item.id, item]));
  const beforeIds = new Set(before.map((item) => item.id));
  for (const item of before) {
    const path = `${at}[id=${item.id}]`;
    const next = afterById.get(item.id);
    if (next === undefined) out.push({ op: 'removed', path, before: item });
    else walk(item, next, path, out);
  }
  for (const item of after) if (!beforeIds.has(item.id)) out.push({ op: 'added', path: `${at}[id=${item.id}]`, after: item });
}

function walkByIndex(before: unknown[], after: unknown[], at: string, out: ConfigChange[]): void {
  for (let i = 0; i < Math.max(before.length, after.length); i += 1) {
    const path = `${at}[${i}]`;
    if (i >= after.length) out.push({ op: 'removed', path, before: before[i] });
    else if (i >= before.length) out.push({ op: 'added', path, after: after[i] });
    else walk(before[i], after[i], path, out);
  }
}
