/**
 * Turns a dropped file into rows: CSV (header row, quoting), NDJSON, or a JSON array. A row that cannot be
 * parsed becomes a row with `parseError` (reason with its line number, the raw text), and the rows around it
 * flow on. The sequence is a pure function of the file's bytes, so a row's index (and so its record id) is
 * the same every time the file is read, which is what lets a crashed read resume by index.
 *
 * Every parsed row meets the record guard: a row no store would take (a NUL, 10,000 columns, nesting past
 * the limit, a number that cannot stay exact) is a parseError row with the guard's reason, never a row
 * some stores keep and others refuse. Text that is not UTF-8 is never shipped as if it were.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { depthProblem, inspect, nestingProblem } from '@sluice/shared/record-guard';
import { JsonArrayError, JsonArrayScanner, type ArrayElement } from './json-array-scanner.ts';
import { RecordSplitter, type SplitRecord } from './record-splitter.ts';

export type Row =
  | { payload: unknown; line: number }
  | {
      parseError: { reason: string; raw: string; rawEncoding?: 'base64' };
      line: number;
      /** Set when the whole file is bad (invalid JSON): it goes to failed/ once this row is acknowledged. */
      fileFailure?: { reason: string; position?: number };
    };

/** The whole file cannot be taken (and its raw text is too big for a parseError record). */
export class DropFileError extends Error {
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'DropFileError';
    this.details = details;
  }
}

export interface CsvOptions {
  delimiter: string;
  quote: string;
  header: boolean;
  columns?: readonly string[];
}

/** A JSON value that is not an array is parsed whole; above this it is refused rather than risking the agent's memory. */
export const MAX_JSON_FILE_BYTES = 256 * 1024 * 1024;

/**
 * The file's records. Decoding replaces invalid UTF-8 with U+FFFD, so validity is checked on the bytes
 * alongside (native, cheap); from the first invalid chunk on, a record holding U+FFFD is marked bad.
 */
async function* splitFile(path: string, splitter: RecordSplitter): AsyncGenerator<SplitRecord> {
  const stream = createReadStream(path, { highWaterMark: 256 * 1024 });
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const validity = new Utf8Validity();
  const marked = (records: SplitRecord[]): SplitRecord[] =>
    validity.valid ? records : records.map((r) => (r.error === undefined && r.text.includes('\uFFFD') ? { ...r, error: NOT_UTF8 } : r));
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    validity.push(chunk);
    yield* marked(splitter.push(decoder.decode(chunk, { stream: true })));
  }
  validity.end();
  yield* marked([...splitter.push(decoder.decode()), ...splitter.end()]);
}

const NOT_UTF8 = 'not valid UTF-8 (the invalid bytes would have been stored as U+FFFD)';

/** Streaming UTF-8 validation: a sequence cut by a chunk boundary is carried into the next chunk. */
class Utf8Validity {
  valid = true;
  #carry: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    if (!this.valid) return;
    const bytes = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    // Back up over at most 3 continuation bytes to the start of a sequence that may be incomplete.
    let cut = bytes.length;
    for (let back = 1; back <= Math.min(4, bytes.length); back++) {
      const b = bytes[bytes.length - back]!;
      if ((b & 0xc0) === 0x80) continue;
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      if (need > back) cut = bytes.length - back;
      break;
    }
    this.valid = isUtf8(bytes.subarray(0, cut));
    this.#carry = Buffer.from(bytes.subarray(cut));
  }

  end(): void {
    if (this.#carry.length > 0) this.valid = false;
  }
}

/** A parsed row, or the parseError row the record guard makes of it. */
function guarded(payload: unknown, line: number, raw: () => string): Row {
  const problem = inspect(payload);
  if (problem === undefined) return { payload, line };
  return { parseError: { reason: `line ${line}: ${problem}`, raw: raw() }, line };
}

export async function* csvRows(path: string, options: CsvOptions, maxRecordBytes: number): AsyncGenerator<Row> {
  const splitter = new RecordSplitter({ quote: options.quote, maxRecordChars: maxRecordBytes });
  const state: CsvState = { columns: options.columns, headerPending: options.header };
  for await (const rec of splitFile(path, splitter)) yield* csvRecordRows(rec, options, state, maxRecordBytes);
}

interface CsvState {
  columns: readonly string[] | undefined;
  headerPending: boolean;
}

/**
 * The rows of one split record. A bad record spanning several lines is more likely two stray quotes than a
 * broken multi-line field: its first line becomes the parse error and the lines after it are split again,
 * so the rows between the two quotes flow on. (A work list, not recursion: a hostile file cannot blow the stack.)
 */
function* csvRecordRows(first: SplitRecord, options: CsvOptions, state: CsvState, maxRecordBytes: number): Generator<Row> {
  const pending: SplitRecord[] = [first];
  for (let rec = pending.shift(); rec !== undefined; rec = pending.shift()) {
    if (rec.error === undefined && rec.text.trim() === '') continue;
    const fields = rec.error === undefined ? parseCsvRecord(rec.text, options) : rec.error;
    const expected = state.headerPending ? undefined : state.columns?.length;
    const bad = typeof fields === 'string' || (expected !== undefined && fields.length !== expected);
    const nl = rec.text.indexOf('\n');
    if (bad && rec.error === undefined && nl >= 0) {
      const head = rec.text.slice(0, nl);
      yield { parseError: { reason: `line ${rec.line}: quote not closed`, raw: head.endsWith('\r') ? head.slice(0, -1) : head }, line: rec.line };
      const again = new RecordSplitter({ quote: options.quote, maxRecordChars: maxRecordBytes, firstLine: rec.line + 1 });
      pending.unshift(...again.push(rec.text.slice(nl + 1)), ...again.end());
      continue;
    }
    if (typeof fields === 'string') {
      yield { parseError: { reason: `line ${rec.line}: ${fields}`, raw: rec.text }, line: rec.line };
      continue;
    }
    if (state.headerPending) {
      state.headerPending = false;
      // A header given in config wins; the file's header row is then only skipped.
      state.columns ??= fields;
      continue;
    }
    const columns = state.columns;
    if (columns === undefined) {
      yield guarded(fields, rec.line, () => rec.text);
    } else if (fields.length !== columns.length) {
      yield {
        parseError: { reason: `line ${rec.line}: expected ${columns.length} fields, got ${fields.length}`, raw: rec.text },
        line: rec.line,
      };
    } else {
      const payload: Record<string, string> = {};
      columns.forEach((name, i) => (payload[name] = fields[i] ?? ''));
      yield guarded(payload, rec.line, () => rec.text);
    }
  }
}

/** Fields of one record, or why it is not a CSV record. */
function parseCsvRecord(text: string, options: CsvOptions): string[] | string {
  try {
    const records: string[][] = parseCsv(text, { delimiter: options.delimiter, quote: options.quote, relax_column_count: true });
    if (records.length !== 1 || records[0] === undefined) return `expected one record, found ${records.length}`;
    return records[0];
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function* ndjsonRows(path: string, maxRecordBytes: number): AsyncGenerator<Row> {
  const splitter = new RecordSplitter({ maxRecordChars: maxRecordBytes });
  for await (const rec of splitFile(path, splitter)) {
    if (rec.error === undefined && rec.text.trim() === '') continue;
    if (rec.error !== undefined) {
      yield { parseError: { reason: `line ${rec.line}: ${rec.error}`, raw: rec.text }, line: rec.line };
      continue;
    }
    if (depthProblem(rec.text) !== undefined) {
      yield { parseError: { reason: `line ${rec.line}: ${depthProblem(rec.text)}`, raw: rec.text }, line: rec.line };
      continue;
    }
    try {
      yield guarded(JSON.parse(rec.text) as unknown, rec.line, () => rec.text);
    } catch (error) {
      yield { parseError: { reason: `line ${rec.line}: ${(error as Error).message}`, raw: rec.text }, line: rec.line };
    }
  }
}

/**
 * A JSON array gives one row per element, streamed (json-array-scanner.ts: one element in memory at a time);
 * any other JSON value is one row, parsed whole (up to MAX_JSON_FILE_BYTES). An element that is not valid
 * JSON is a parseError row like a bad NDJSON line, and the elements around it flow on. A broken array (not
 * closed, a value missing, data after it) or a file that is not UTF-8 ships nothing of its rows: a first pass
 * checks the whole file before any row is shipped, then the file goes to failed/ with its reason, and its raw
 * text is also shipped as one parseError row when it fits in a record (so the data reaches the DLQ); when it
 * does not fit, failed/ alone keeps it.
 */
export async function* jsonRows(path: string, size: number, maxRecordBytes: number): AsyncGenerator<Row> {
  const checked = await checkJsonArray(path);
  if (checked === 'not-array') {
    yield* wholeJsonRows(path, size, maxRecordBytes);
    return;
  }
  if (checked !== undefined) {
    yield* failedJsonFile(path, size, maxRecordBytes, `invalid JSON: ${checked.reason}`, checked.position);
    return;
  }
  const scanner = new JsonArrayScanner({ collect: true, maxElementBytes: maxRecordBytes });
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
    for (const element of scanner.push(chunk)) yield elementRow(element, maxRecordBytes);
  }
}

/** The first pass: undefined when the file is a whole UTF-8 JSON array, else why not. */
async function checkJsonArray(path: string): Promise<'not-array' | { reason: string; position?: number } | undefined> {
  const scanner = new JsonArrayScanner({ collect: false, maxElementBytes: 0 });
  const validity = new Utf8Validity();
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
      validity.push(chunk);
      scanner.push(chunk);
      if (scanner.kind === 'not-array') return 'not-array';
    }
    scanner.end();
  } catch (error) {
    if (error instanceof JsonArrayError) return { reason: error.message, position: error.position };
    throw error;
  }
  validity.end();
  return validity.valid ? undefined : { reason: `the file is ${NOT_UTF8}` };
}

function elementRow(element: ArrayElement, maxRecordBytes: number): Row {
  const { line } = element;
  if (element.size > maxRecordBytes) {
    const raw = element.bytes.toString('utf8');
    return { parseError: { reason: `line ${line}: array element of ${element.size} bytes is over maxRecordBytes (${maxRecordBytes}); raw text truncated`, raw }, line };
  }
  const text = element.bytes.toString('utf8');
  const tooDeep = nestingProblem(element.depth);
  if (tooDeep !== undefined) return { parseError: { reason: `line ${line}: ${tooDeep}`, raw: text.trim() }, line };
  try {
    return guarded(JSON.parse(text) as unknown, line, () => text.trim());
  } catch (error) {
    return { parseError: { reason: `line ${line}: ${(error as Error).message}`, raw: text.trim() }, line };
  }
}

/** A JSON file that is not an array: one value, parsed whole. */
async function* wholeJsonRows(path: string, size: number, maxRecordBytes: number): AsyncGenerator<Row> {
  if (size > MAX_JSON_FILE_BYTES) {
    throw new DropFileError(`JSON file of ${size} bytes is over the ${MAX_JSON_FILE_BYTES}-byte limit for a JSON value that is not an array; use NDJSON or an array`);
  }
  const bytes = await readFile(path);
  if (!isUtf8(bytes)) {
    yield* failedJsonFile(path, size, maxRecordBytes, `invalid JSON: the file is ${NOT_UTF8}`);
    return;
  }
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const match = /position (\d+)/.exec(message);
    yield* failedJsonFile(path, size, maxRecordBytes, `invalid JSON: ${message}`, match?.[1] === undefined ? undefined : Number(match[1]));
    return;
  }
  yield guarded(value, 1, () => text);
}

/** A file that is not JSON: its raw text as one parseError row that sends the file to failed/, if it fits in a record. */
async function* failedJsonFile(path: string, size: number, maxRecordBytes: number, reason: string, position?: number): AsyncGenerator<Row> {
  const fileFailure = position === undefined ? { reason } : { reason, position };
  if (size > maxRecordBytes) throw new DropFileError(reason, position === undefined ? {} : { position });
  const bytes = await readFile(path);
  const raw = isUtf8(bytes) ? { raw: bytes.toString('utf8') } : { raw: bytes.toString('base64'), rawEncoding: 'base64' as const };
  yield { parseError: { reason, ...raw }, line: 1, fileFailure };
}
