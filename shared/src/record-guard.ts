/**
 * One verdict per record, the same at every door and in the consumer: what any store would refuse for
 * what the record is is refused before any store writes it. The limits sit below each store's own
 * (measured against OpenSearch 2.19 with its defaults, and PostgreSQL jsonb / typed columns):
 *
 * - nesting: OpenSearch refuses a payload nested 20 objects deep (`index.mapping.depth.limit` 20); we stop
 *   at 16, counting arrays too (PostgreSQL and JSON serialisers recurse through them).
 * - field paths: OpenSearch refuses an index past 1,000 mapped fields (`index.mapping.total_fields.limit`);
 *   a dynamically mapped string costs two (text + keyword) and the envelope about twenty, so one record may
 *   bring at most 400 distinct paths.
 * - numbers: finite, and within ±(2^53 − 1). Beyond it a JSON number can no longer hold every integer
 *   exactly, and the stores disagree: 1.23e29 is a float to a fresh search index but out of range for a
 *   `long` (a schema `integer`, or a field first seen as a whole number) and for a PostgreSQL `bigint`.
 *   Such values are refused, never rounded: send them as strings.
 * - strings and field names: no NUL (PostgreSQL text and jsonb cannot store it) and no lone surrogate
 *   (not Unicode; PostgreSQL refuses its escape, UTF-8 cannot carry it).
 * - field names: the search engines read dots as a path, and refuse a path with an empty or blank part
 *   (`""`, `"."`, `".a"`, `"a..b"`, `" "`).
 */

export const MAX_NESTING_DEPTH = 16;
export const MAX_FIELD_PATHS = 400;
export const MAX_EXACT_NUMBER = Number.MAX_SAFE_INTEGER;

interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  key: string | number;
}

/**
 * Why no store should take this value (a reason naming where in it the problem is), or undefined.
 * Iterative, so a value nested a million deep (JSON.parse builds those without complaint) cannot overflow
 * the stack here.
 */
export function inspect(value: unknown, root = 'payload'): string | undefined {
  const first = scalarProblem(value);
  if (first !== undefined) return `${root}: ${first}`;
  if (typeof value !== 'object' || value === null) return undefined;
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: root }];
  let fieldNames = 0;
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    if (frame.depth > MAX_NESTING_DEPTH) return `nested more than ${MAX_NESTING_DEPTH} levels deep (at ${pathOf(frame, 6)})`;
    // Plain loops, no entry arrays: this runs for every record the consumer loads.
    const container = frame.value;
    if (Array.isArray(container)) {
      for (let i = 0; i < container.length; i++) {
        const child: unknown = container[i];
        if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key: i });
        else if (typeof child === 'number' || typeof child === 'string') {
          const problem = scalarProblem(child);
          if (problem !== undefined) return `${pathOf(frame)}${step(i)}: ${problem}`;
        }
      }
      continue;
    }
    const record = container as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const name = nameProblem(key);
      if (name !== undefined) return `field name ${quote(key)} at ${pathOf(frame)} ${name}`;
      fieldNames += countSegments(key);
      const child = record[key];
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
      else if (typeof child === 'number' || typeof child === 'string') {
        const problem = scalarProblem(child);
        if (problem !== undefined) return `${pathOf(frame)}${step(key)}: ${problem}`;
      }
    }
  }
  // Counting names is cheap; only a record with many of them pays for the distinct paths.
  if (fieldNames > MAX_FIELD_PATHS) {
    const paths = distinctPaths(value, MAX_FIELD_PATHS);
    if (paths > MAX_FIELD_PATHS) return `has more than ${MAX_FIELD_PATHS} distinct fields (a search index maps each one, up to 1000 per index)`;
  }
  return undefined;
}

function scalarProblem(value: unknown): string | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'not a finite number';
    if (Math.abs(value) > MAX_EXACT_NUMBER) {
      return `number ${value} is beyond ±${MAX_EXACT_NUMBER} (2^53 − 1), where numbers stop being exact and the stores disagree; send it as a string`;
    }
    return undefined;
  }
  if (typeof value === 'string') return textProblem(value);
  if (typeof value === 'bigint') return 'a bigint is not a JSON value';
  return undefined;
}

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000), which PostgreSQL cannot store';
  if (!text.isWellFormed()) return 'contains a lone UTF-16 surrogate, which is not Unicode text';
  return undefined;
}

function nameProblem(key: string): string | undefined {
  const text = textProblem(key);
  if (text !== undefined) return text;
  // What the search engines refuse: every dot-separated part must have a visible character. Most names are
  // one plain word; only those with a dot, or starting or ending blank, need the split.
  const plain = key.length > 0 && !key.includes('.') && key.charCodeAt(0) > 0x20 && key.charCodeAt(key.length - 1) > 0x20;
  if (plain) return undefined;
  for (const part of key.split('.')) if (part.trim() === '') return 'has an empty or blank part (search engines read dots as a path)';
  return undefined;
}

function countSegments(key: string): number {
  let n = 1;
  for (let i = key.indexOf('.'); i >= 0; i = key.indexOf('.', i + 1)) n++;
  return n;
}

/** Distinct field paths as a search engine maps them (array elements share their array's path). */
function distinctPaths(value: unknown, limit: number): number {
  const seen = new Set<string>();
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: '' }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const v = item.value;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      for (const element of v) stack.push({ value: element, path: item.path });
      continue;
    }
    for (const [key, child] of Object.entries(v)) {
      let path = item.path;
      for (const part of key.split('.')) {
        path = path === '' ? part : `${path}.${part}`;
        seen.add(path);
      }
      if (seen.size > limit) return seen.size;
      stack.push({ value: child, path });
    }
  }
  return seen.size;
}

function step(key: string | number): string {
  return typeof key === 'number' ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${quote(key)}]`;
}

/** The path to a frame; a very deep one keeps its first `keep` steps. */
function pathOf(frame: Frame, keep = Infinity): string {
  const keys: Array<string | number> = [];
  for (let f: Frame | undefined = frame; f !== undefined; f = f.parent) keys.push(f.key);
  keys.reverse();
  const [root, ...rest] = keys;
  const shown = rest.slice(0, keep).map(step).join('');
  return `${String(root)}${shown}${rest.length > keep ? '…' : ''}`;
}

function quote(text: string): string {
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
  return shown;
}

/**
 * The deepest nesting of JSON text (brackets outside strings), stopping as soon as it passes `limit`, without
 * parsing: a linear scan, so text too deep for any serialiser is told apart before anything recurses.
 * Works on UTF-8 bytes or on a string's char codes (every byte that matters is ASCII).
 */
export function jsonTextDepth(text: Uint8Array | string, limit = MAX_NESTING_DEPTH): number {
  const at = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = at(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

export function depthProblem(text: Uint8Array | string): string | undefined {
  return nestingProblem(jsonTextDepth(text));
}

/** The refusal for JSON text nested `depth` levels deep (as jsonTextDepth counts), if it is too deep. */
export function nestingProblem(depth: number): string | undefined {
  return depth > MAX_NESTING_DEPTH ? `nested more than ${MAX_NESTING_DEPTH} levels deep` : undefined;
}
