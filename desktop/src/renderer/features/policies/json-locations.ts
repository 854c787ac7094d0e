/**
 * Where each value of a JSON text sits: `sources[0].path` → line and column (1-based) of its key, or of the
 * value itself for array items and the root. JSON.parse says nothing about positions, and a problem must be
 * shown at its field, so this walks the text once.
 */
import { formatPath } from '@sluice/shared/agent-config/validate';

export interface TextLocation {
  line: number;
  column: number;
}

class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(offset: number) {
    super(`JSON syntax error at ${String(offset)}`);
    this.offset = offset;
  }
}

const SCALAR = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/;

/** Every path of a JSON text with its location; throws JsonSyntaxError where the text stops being JSON. */
function walkJson(text: string): Map<string, TextLocation> {
  const found = new Map<string, TextLocation>();
  let i = 0;
  const locate = (offset: number) => locationAt(text, offset);
  const space = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) throw new JsonSyntaxError(i);
    i++;
  };
  const string = (): string => {
    if (text[i] !== '"') throw new JsonSyntaxError(i);
    const start = i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) throw new JsonSyntaxError(start);
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  // Members of an object or items of an array: `open item (, item)* close`.
  const members = (close: string, item: (n: number) => void) => {
    space();
    if (text[i] === close) {
      i++;
      return;
    }
    for (let n = 0; ; n++) {
      space();
      item(n);
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      expect(',');
    }
  };
  const value = (path: (string | number)[], where: TextLocation) => {
    space();
    found.set(formatPath(path), where);
    const c = text[i];
    if (c === '{') {
      i++;
      members('}', () => {
        const keyAt = locate(i);
        const key = string();
        expect(':');
        value([...path, key], keyAt);
      });
    } else if (c === '[') {
      i++;
      members(']', (n) => value([...path, n], locate(i)));
    } else if (c === '"') {
      string();
    } else {
      const scalar = SCALAR.exec(text.slice(i));
      if (!scalar) throw new JsonSyntaxError(i);
      i += scalar[0].length;
    }
  };
  space();
  value([], locate(i));
  space();
  if (i < text.length) throw new JsonSyntaxError(i);
  return found;
}

/** Where each path of a JSON text is (for text JSON.parse accepted: see walkJson for the rest). */
export function locateJsonPaths(text: string): Map<string, TextLocation> {
  try {
    return walkJson(text);
  } catch {
    return new Map();
  }
}

/** Where a text JSON.parse refused stops being JSON (V8's message does not always say). */
export function jsonSyntaxErrorAt(text: string): TextLocation | undefined {
  try {
    walkJson(text);
    return undefined;
  } catch (error) {
    return error instanceof JsonSyntaxError ? locationAt(text, error.offset) : undefined;
  }
}

function locationAt(text: string, offset: number): TextLocation {
  const before = text.slice(0, offset);
  return { line: before.split('\n').length, column: offset - before.lastIndexOf('\n') };
}

/**
 * The location shown for a problem's path: the path itself, else its nearest parent that is in the text (a
 * missing required option is reported at the object that lacks it).
 */
export function locationOf(locations: ReadonlyMap<string, TextLocation>, path: string): TextLocation | undefined {
  for (let p = path; ; ) {
    const hit = locations.get(p);
    if (hit) return hit;
    const parent = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    if (parent === p) return locations.get('(root)');
    p = parent === '' ? '(root)' : parent;
  }
}
