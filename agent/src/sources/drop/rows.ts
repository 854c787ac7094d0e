/**
 * Turns a dropped file into rows: CSV (header row, quoting), NDJSON, or a JSON array. A row that cannot be
 * parsed becomes a row with `parseError` (reason with its line number, the raw text), and the rows around it
 * flow on. The sequence is a pure function of the file's bytes, so a row's index (and so its record id) is
 * the same every time the file is read, which is what lets a crashed read resume by index.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parse as parseCsv } from 'csv-parse/sync';
import { RecordSplitter, type SplitRecord } from './record-splitter.ts';

export type Row =
  | { payload: unknown; line: number }
  | {
      parseError: { reason: string; raw: string };
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

/** JSON files are parsed whole; above this they are refused rather than risking the agent's memory. */
export const MAX_JSON_FILE_BYTES = 256 * 1024 * 1024;

async function* splitFile(path: string, splitter: RecordSplitter): AsyncGenerator<SplitRecord> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 256 * 1024 });
  for await (const chunk of stream as AsyncIterable<string>) yield* splitter.push(chunk);
  yield* splitter.end();
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
      yield { payload: fields, line: rec.line };
    } else if (fields.length !== columns.length) {
      yield {
        parseError: { reason: `line ${rec.line}: expected ${columns.length} fields, got ${fields.length}`, raw: rec.text },
        line: rec.line,
      };
    } else {
      const payload: Record<string, string> = {};
      columns.forEach((name, i) => (payload[name] = fields[i] ?? ''));
      yield { payload, line: rec.line };
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
    try {
      yield { payload: JSON.parse(rec.text) as unknown, line: rec.line };
    } catch (error) {
      yield { parseError: { reason: `line ${rec.line}: ${(error as Error).message}`, raw: rec.text }, line: rec.line };
    }
  }
}

/**
 * A JSON array gives one row per element; any other JSON value is one row. Invalid JSON: the file goes to
 * failed/ with its reason, and its raw text is also shipped as one parseError row when it fits in a record
 * (so the data reaches the DLQ); when it does not fit, failed/ alone keeps it.
 */
export async function* jsonRows(path: string, size: number, maxRecordBytes: number): AsyncGenerator<Row> {
  if (size > MAX_JSON_FILE_BYTES) {
    throw new DropFileError(`JSON file of ${size} bytes is over the ${MAX_JSON_FILE_BYTES}-byte limit for JSON; use NDJSON`);
  }
  const text = await readFile(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    const message = (error as Error).message;
    const match = /position (\d+)/.exec(message);
    const position = match?.[1] === undefined ? undefined : Number(match[1]);
    const reason = `invalid JSON: ${message}`;
    const fileFailure = position === undefined ? { reason } : { reason, position };
    if (Buffer.byteLength(text) > maxRecordBytes) throw new DropFileError(reason, position === undefined ? {} : { position });
    yield { parseError: { reason, raw: text }, line: 1, fileFailure };
    return;
  }
  if (!Array.isArray(value)) {
    yield { payload: value, line: 1 };
    return;
  }
  for (const item of value as unknown[]) yield { payload: item, line: 1 };
}
