/**
 * Finds the elements of a top-level JSON array in a byte stream without parsing the array: one element is in
 * memory at a time, so a 200k-object file streams like NDJSON. It tracks only what decides where an element
 * ends (strings, escapes, bracket depth and the commas between elements); each element's text is parsed on
 * its own by the caller, so a malformed element is that element's problem. What it refuses is the array
 * itself: a value before `[`, a `]` or `}` too many, a missing value after `,`, anything after the closing
 * `]`, or a file that ends before it. Bytes, not characters: no byte of a multi-byte UTF-8 sequence is ASCII,
 * so the scan is exact on UTF-8 and needs no decoding.
 */

/** One element: its bytes (cut at the limit; empty in validate-only mode), first line, whole size and nesting depth. */
export interface ArrayElement {
  bytes: Buffer;
  line: number;
  size: number;
  /** Deepest bracket nesting inside the element, counted as record-guard's jsonTextDepth does. */
  depth: number;
}

export class JsonArrayError extends Error {
  /** Byte offset in the file of the problem. */
  readonly position: number;
  constructor(reason: string, position: number, line: number) {
    super(`line ${line}: ${reason} (byte ${position})`);
    this.name = 'JsonArrayError';
    this.position = position;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const NEWLINE = 0x0a;
const isSpace = (b: number): boolean => b === 0x20 || b === NEWLINE || b === 0x0d || b === 0x09;
const BOM = [0xef, 0xbb, 0xbf];
const indexOrEnd = (chunk: Buffer, byte: number, from: number): number => {
  const at = chunk.indexOf(byte, from);
  return at === -1 ? chunk.length : at;
};

type State = 'before' | 'first' | 'next' | 'element' | 'after';

export class JsonArrayScanner {
  /** 'not-array' once the first significant byte is not `[`: the caller parses such a file whole. */
  kind: 'unknown' | 'array' | 'not-array' = 'unknown';
  #state: State = 'before';
  #offset = 0;
  #line = 1;
  #depth = 0;
  #maxDepth = 0;
  #inString = false;
  #escaped = false;
  #parts: Buffer[] = [];
  #kept = 0;
  #size = 0;
  #elementLine = 1;
  readonly #collect: boolean;
  readonly #maxElementBytes: number;

  /** `collect: false` only validates (no element bytes kept); an element keeps at most `maxElementBytes`. */
  constructor(options: { collect: boolean; maxElementBytes: number }) {
    this.#collect = options.collect;
    this.#maxElementBytes = options.maxElementBytes;
  }

  /** The elements that ended in this chunk; throws JsonArrayError when the array is broken. */
  push(chunk: Buffer): ArrayElement[] {
    const out: ArrayElement[] = [];
    let start = this.#state === 'element' ? 0 : -1; // where the current element's bytes begin in this chunk
    // Inside a string only a quote or a backslash matters: jump to the next one (native search, cached).
    let nextQuote = -1;
    let nextBackslash = -1;
    for (let i = 0; i < chunk.length; i++) {
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false;
          continue;
        }
        if (nextQuote < i) nextQuote = indexOrEnd(chunk, QUOTE, i);
        if (nextBackslash < i) nextBackslash = indexOrEnd(chunk, BACKSLASH, i);
        if (nextBackslash < nextQuote) {
          i = nextBackslash;
          this.#escaped = true;
        } else {
          i = nextQuote;
          this.#inString = i === chunk.length; // the string goes on in the next chunk
        }
        continue;
      }
      const b = chunk[i]!;
      const at = this.#offset + i;
      if (this.#state === 'element') {
        if (b === QUOTE) this.#inString = true;
        else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
          this.#depth += 1;
          if (this.#depth > this.#maxDepth) this.#maxDepth = this.#depth;
        }
        else if ((b === CLOSE_ARRAY || b === CLOSE_OBJECT) && this.#depth > 0) this.#depth -= 1;
        else if (b === CLOSE_OBJECT) throw this.#error('a "}" with no "{" before it', at);
        else if (this.#depth === 0 && (b === COMMA || b === CLOSE_ARRAY)) {
          this.#take(chunk, start, i);
          out.push(this.#endElement());
          start = -1;
          this.#state = b === COMMA ? 'next' : 'after';
        }
        if (b === NEWLINE) this.#line += 1;
        continue;
      }
      if (b === NEWLINE) this.#line += 1;
      if (isSpace(b)) continue;
      if (this.#state === 'before') {
        if (at < 3 && b === BOM[at]) continue;
        this.kind = b === OPEN_ARRAY ? 'array' : 'not-array';
        if (this.kind === 'not-array') return out;
        this.#state = 'first';
      } else if (this.#state === 'after') {
        throw this.#error('data after the closing "]" of the array', at);
      } else if (b === CLOSE_ARRAY && this.#state === 'first') {
        this.#state = 'after';
      } else if (b === CLOSE_ARRAY || b === COMMA) {
        throw this.#error(`a value is missing before "${String.fromCharCode(b)}"`, at);
      } else {
        // The first byte of an element: scan it again in the element state.
        this.#state = 'element';
        this.#elementLine = this.#line;
        start = i;
        i -= 1;
      }
    }
    if (this.#state === 'element') this.#take(chunk, start, chunk.length);
    this.#offset += chunk.length;
    return out;
  }

  /** Throws when the file ended before the array did. */
  end(): void {
    if (this.kind === 'array' && this.#state !== 'after') {
      throw this.#error(this.#inString ? 'the file ends inside a string' : 'the file ends before the array is closed with "]"', this.#offset);
    }
  }

  #take(chunk: Buffer, from: number, to: number): void {
    if (from < 0 || to <= from) return;
    this.#size += to - from;
    const room = this.#collect ? this.#maxElementBytes - this.#kept : 0;
    if (room <= 0) return;
    const part = chunk.subarray(from, Math.min(to, from + room));
    this.#parts.push(part);
    this.#kept += part.length;
  }

  #endElement(): ArrayElement {
    const element = { bytes: Buffer.concat(this.#parts), line: this.#elementLine, size: this.#size, depth: this.#maxDepth };
    this.#maxDepth = 0;
    this.#parts = [];
    this.#kept = 0;
    this.#size = 0;
    return element;
  }

  #error(reason: string, position: number): JsonArrayError {
    return new JsonArrayError(reason, position, this.#line);
  }
}
