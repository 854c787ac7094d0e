/**
 * Reading a record's event time out of its payload, as a dataset's `eventTime` setting says (analytics.ts).
 * The result is milliseconds since the epoch (and the envelope's ISO form of it), or why it could not be
 * read: the caller keeps the ingest time then, and counts the reason.
 */
import type { EventTimeSpec } from './analytics.ts';
import { atPointer, parsePointer } from './json-pointer.ts';

/** `bad_pattern`: the dataset's pattern itself does not compile (see compilePattern). */
export type EventTimeMiss = 'missing' | 'wrong_type' | 'unparsable' | 'out_of_range' | 'bad_pattern';
export type EventTimeResult = { ms: number; iso: string } | { miss: EventTimeMiss };
export type EventTimeReader = (payload: unknown) => EventTimeResult;

/** PostgreSQL, search and the envelope's `date-time` all hold years 0001–9999 (RFC 3339 has four digits). */
const MIN_MS = Date.parse('0001-01-01T00:00:00Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Compiles a reader; throws a TypeError naming the problem when `spec.pattern` is not a pattern it knows. */
export function eventTimeReader(spec: EventTimeSpec): EventTimeReader {
  const path = parsePointer(spec.field);
  const parse = parserFor(spec);
  return (payload) => {
    const value = atPointer(payload, path);
    if (value === undefined || value === null || value === '') return { miss: 'missing' };
    const ms = parse(value);
    if (typeof ms === 'string') return { miss: ms };
    if (ms < MIN_MS || ms > MAX_MS) return { miss: 'out_of_range' };
    return { ms, iso: new Date(ms).toISOString() };
  };
}

type Parse = (value: unknown) => number | EventTimeMiss;

function parserFor(spec: EventTimeSpec): Parse {
  switch (spec.format) {
    case 'rfc3339':
      return (value) => (typeof value === 'string' ? (parseRfc3339(value) ?? 'unparsable') : 'wrong_type');
    case 'epoch-s':
      return (value) => epoch(value, 1000);
    case 'epoch-ms':
      return (value) => epoch(value, 1);
    case 'pattern': {
      const parse = compilePattern(spec.pattern ?? '');
      return (value) => (typeof value === 'string' ? (parse(value) ?? 'unparsable') : 'wrong_type');
    }
  }
}

/** A number, or a string holding one (CSV rows and many APIs send numbers as text). */
function epoch(value: unknown, scale: number): number | EventTimeMiss {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && NUMERIC.test(value.trim())) n = Number(value.trim());
  else return typeof value === 'string' ? 'unparsable' : 'wrong_type';
  if (!Number.isFinite(n)) return 'out_of_range';
  return Math.round(n * scale);
}

export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const offset = m[8]!;
  return fromParts(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, m[7] ?? '', offsetMinutes(offset));
}

function offsetMinutes(offset: string): number | undefined {
  if (offset === 'Z' || offset === 'z') return 0;
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(offset);
  if (!m) return undefined;
  const hours = +m[2]!;
  const minutes = +m[3]!;
  if (hours > 23 || minutes > 59) return undefined;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

/** Checked civil time → epoch ms: a 30 February or a 25th hour is unparsable, not rolled over. */
function fromParts(year: number, month: number, day: number, hour: number, minute: number, second: number, fraction: string, offset: number | undefined): number | undefined {
  if (offset === undefined || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month - 1) return undefined;
  const ms = fraction === '' ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  return date.getTime() + ms - offset * 60_000;
}

type Field = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'fraction' | 'offset';

const TOKENS: ReadonlyArray<{ token: RegExp; field: Field; regex: (token: string) => string }> = [
  { token: /^yyyy/, field: 'year', regex: () => '(\\d{4})' },
  { token: /^MM/, field: 'month', regex: () => '(\\d{2})' },
  { token: /^M/, field: 'month', regex: () => '(\\d{1,2})' },
  { token: /^dd/, field: 'day', regex: () => '(\\d{2})' },
  { token: /^d/, field: 'day', regex: () => '(\\d{1,2})' },
  { token: /^HH/, field: 'hour', regex: () => '(\\d{2})' },
  { token: /^H/, field: 'hour', regex: () => '(\\d{1,2})' },
  { token: /^mm/, field: 'minute', regex: () => '(\\d{2})' },
  { token: /^ss/, field: 'second', regex: () => '(\\d{2})' },
  { token: /^S{1,9}/, field: 'fraction', regex: (t) => `(\\d{${t.length}})` },
  { token: /^XXX/, field: 'offset', regex: () => '(Z|[+-]\\d{2}:\\d{2})' },
  { token: /^Z/, field: 'offset', regex: () => '(Z|[+-]\\d{2}:?\\d{2})' },
];

/**
 * A pattern → a parser of strings written that way (undefined when a string does not match or is not a
 * real time). Throws a TypeError for letters that are no token, a field given twice, or no year/month/day.
 */
export function compilePattern(pattern: string): (text: string) => number | undefined {
  let regex = '^';
  const order: Field[] = [];
  let rest = pattern;
  while (rest.length > 0) {
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) throw new TypeError(`event time pattern ${JSON.stringify(pattern)}: unclosed quote`);
      regex += escapeRegex(end === 1 ? "'" : rest.slice(1, end));
      rest = rest.slice(end + 1);
      continue;
    }
    const hit = TOKENS.map((t) => ({ t, m: t.token.exec(rest) })).find((x) => x.m !== null);
    if (hit?.m) {
      if (order.includes(hit.t.field)) throw new TypeError(`event time pattern ${JSON.stringify(pattern)}: ${hit.t.field} appears twice`);
      order.push(hit.t.field);
      regex += hit.t.regex(hit.m[0]);
      rest = rest.slice(hit.m[0].length);
      continue;
    }
    const c = rest[0]!;
    if (/[a-zA-Z]/.test(c)) throw new TypeError(`event time pattern ${JSON.stringify(pattern)}: '${c}' is not a token (quote letters: '${c}')`);
    regex += escapeRegex(c);
    rest = rest.slice(1);
  }
  for (const needed of ['year', 'month', 'day'] as const) {
    if (!order.includes(needed)) throw new TypeError(`event time pattern ${JSON.stringify(pattern)} has no ${needed}`);
  }
  const compiled = new RegExp(`${regex}$`);
  return (text) => {
    const m = compiled.exec(text);
    if (!m) return undefined;
    const get = (field: Field): string | undefined => {
      const i = order.indexOf(field);
      return i < 0 ? undefined : m[i + 1];
    };
    const offset = get('offset');
    return fromParts(+get('year')!, +get('month')!, +get('day')!, +(get('hour') ?? 0), +(get('minute') ?? 0), +(get('second') ?? 0), get('fraction') ?? '', offset === undefined ? 0 : offsetMinutes(offset));
  };
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
