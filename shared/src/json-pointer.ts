/**
 * RFC 6901 JSON Pointers: `/a/b~1c/0` is a → "b/c" → index 0; '' is the document itself. Used where a config
 * names a field inside each record (http-poll `idField`), so any key, including ones with '.' or '/', can be
 * addressed.
 */

/** Matches a non-empty pointer: '/'-prefixed tokens where '~' only appears as ~0 or ~1. */
export const JSON_POINTER_PATTERN = '^(/([^~/]|~[01])*)+$';

export function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new TypeError(`JSON pointer ${JSON.stringify(pointer)} must start with '/'`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The value the pointer leads to, or undefined when a step is missing (an array index must be digits). */
export function atPointer(document: unknown, pointer: string | readonly string[]): unknown {
  let current = document;
  for (const token of typeof pointer === 'string' ? parsePointer(pointer) : pointer) {
    if (Array.isArray(current)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else if (current !== null && typeof current === 'object' && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token];
    } else {
      return undefined;
    }
  }
  return current;
}
