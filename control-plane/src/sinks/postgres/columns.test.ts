import { describe, expect, it } from 'vitest';
import { castExpression, columnName, copyFieldFor, pgTypeOf, quoteIdent, typedColumns } from './columns.ts';
import { CopyBinaryWriter } from './copy-binary.ts';
import { copyTextRow, copyTextValue } from './copy-text.ts';
import { classifyPgError } from './pg-errors.ts';

describe('pgTypeOf', () => {
  it('maps JSON Schema types to PostgreSQL types', () => {
    expect(pgTypeOf({ type: 'string' })).toBe('text');
    expect(pgTypeOf({ type: 'string', format: 'date-time' })).toBe('timestamptz');
    expect(pgTypeOf({ type: 'integer' })).toBe('bigint');
    expect(pgTypeOf({ type: 'number' })).toBe('double precision');
    expect(pgTypeOf({ type: 'boolean' })).toBe('boolean');
    expect(pgTypeOf({ type: 'object' })).toBe('jsonb');
    expect(pgTypeOf({ type: 'array' })).toBe('jsonb');
  });
  it('sees through a nullable union and falls back to jsonb when ambiguous', () => {
    expect(pgTypeOf({ type: ['integer', 'null'] })).toBe('bigint');
    expect(pgTypeOf({ type: ['integer', 'string'] })).toBe('jsonb');
    expect(pgTypeOf({ enum: ['a', 'b'] })).toBe('jsonb');
    expect(pgTypeOf(true)).toBe('jsonb');
  });
});

describe('columnName', () => {
  it('keeps plain identifiers, case included', () => {
    expect(columnName('userId')).toBe('userId');
    expect(columnName('amount_eur')).toBe('amount_eur');
  });
  it('sanitises other names deterministically and keeps look-alikes apart', () => {
    const a = columnName('a-b');
    expect(a).toMatch(/^a_b_[0-9a-f]{8}$/);
    expect(columnName('a-b')).toBe(a);
    expect(a).not.toBe(columnName('a_b'));
    expect(a).not.toBe(columnName('a b'));
    expect(columnName('1st')).toMatch(/^f_1st_[0-9a-f]{8}$/);
    expect(columnName('ünï')).toMatch(/^n_[0-9a-f]{8}$/);
    expect(columnName('--')).toMatch(/^f__[0-9a-f]{8}$/);
  });
  it('never collides with the envelope columns', () => {
    expect(columnName('id')).toMatch(/^id_[0-9a-f]{8}$/);
    expect(columnName('payload')).not.toBe('payload');
    expect(columnName('Event_Time')).not.toBe('Event_Time');
  });
  it('fits PostgreSQL identifier length', () => {
    const long = 'x'.repeat(100);
    expect(columnName(long).length).toBeLessThanOrEqual(63);
    expect(columnName(long)).not.toBe(columnName('x'.repeat(99)));
  });
});

describe('typedColumns and SQL text', () => {
  it('derives sorted columns from top-level properties', () => {
    const cols = typedColumns({ type: 'object', properties: { b: { type: 'integer' }, a: { type: 'string', format: 'date-time' } } });
    expect(cols).toEqual([
      { property: 'a', column: 'a', type: 'timestamptz' },
      { property: 'b', column: 'b', type: 'bigint' },
    ]);
    expect(typedColumns({ type: 'object' })).toEqual([]);
  });
  it('quotes identifiers and property keys', () => {
    expect(quoteIdent('we"ird')).toBe('"we""ird"');
    expect(castExpression("o'k", 'bigint', 'p')).toBe("(p ->> 'o''k')::bigint");
    expect(castExpression('o', 'jsonb', 'p')).toBe("(p -> 'o')");
  });
});

describe('COPY text escaping', () => {
  it('escapes backslash, tab, newline and carriage return; NULL is \\N', () => {
    expect(copyTextValue('a\tb\nc\rd\\e')).toBe('a\\tb\\nc\\rd\\\\e');
    expect(copyTextValue(null)).toBe('\\N');
    expect(copyTextValue('\\N')).toBe('\\\\N');
    expect(copyTextValue(42)).toBe('42');
    expect(copyTextRow(['x', null, 'y\tz'])).toBe('x\t\\N\ty\\tz\n');
  });
});

describe('classifyPgError', () => {
  const pgError = (code: string) => Object.assign(new Error('boom'), { code });
  it('treats outages as retryable', () => {
    expect(classifyPgError(pgError('57P01'))).toBe('retryable');
    expect(classifyPgError(pgError('08006'))).toBe('retryable');
    expect(classifyPgError(pgError('53300'))).toBe('retryable');
    expect(classifyPgError(pgError('ECONNREFUSED'))).toBe('retryable');
    expect(classifyPgError(new Error('Connection terminated unexpectedly'))).toBe('retryable');
  });
  it('treats bad values as row data errors and the rest as fatal', () => {
    expect(classifyPgError(pgError('22P02'))).toBe('data');
    expect(classifyPgError(pgError('22007'))).toBe('data');
    expect(classifyPgError(pgError('42P01'))).toBe('fatal');
    expect(classifyPgError(new Error('something else'))).toBe('fatal');
  });
});

/** What `copyFieldFor(sqlType)` writes for `value`: null for SQL NULL, the field's bytes, or undefined when it refuses. */
function field(value: unknown, sqlType: string): Buffer | null | undefined {
  const out = new CopyBinaryWriter();
  out.row(1);
  if (!copyFieldFor(sqlType)(out, value)) return undefined;
  // 19 bytes of header, 2 of field count, then the field; 2 bytes of trailer.
  const data = out.finish().subarray(21, -2);
  const length = data.readInt32BE(0);
  if (length === -1) return null;
  expect(data.length).toBe(4 + length);
  return data.subarray(4);
}

function int8(value: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(value);
  return b;
}

function float8(value: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(value);
  return b;
}

describe('copyFieldFor (the direct binary COPY path)', () => {
  it('writes values that plainly fit their column', () => {
    expect(field('x é', 'text')).toEqual(Buffer.from('x é'));
    expect(field(42, 'bigint')).toEqual(int8(42n));
    expect(field(-(2 ** 53) + 1, 'bigint')).toEqual(int8(-(2n ** 53n) + 1n));
    expect(field(0.1, 'double precision')).toEqual(float8(0.1));
    expect(field(-0, 'double precision')).toEqual(float8(0));
    expect(field(true, 'boolean')).toEqual(Buffer.from([1]));
    expect(field(false, 'boolean')).toEqual(Buffer.from([0]));
    expect(field({ a: [1] }, 'jsonb')).toEqual(Buffer.from('\u0001{"a":[1]}'));
    expect(field(null, 'jsonb')).toEqual(Buffer.from('\u0001null'));
    expect(field('2000-01-01T00:00:01.5Z', 'timestamp with time zone')).toEqual(int8(1_500_000n));
    expect(field(undefined, 'jsonb')).toBeNull();
    expect(field(null, 'text')).toBeNull();
  });
  it('gives up on values that need SQL casting rules', () => {
    expect(field(1, 'text')).toBeUndefined();
    expect(field(1.5, 'bigint')).toBeUndefined();
    expect(field(2 ** 60, 'bigint')).toBeUndefined();
    expect(field('1', 'boolean')).toBeUndefined();
    expect(field('x', 'numeric')).toBeUndefined();
    expect(field('2026-03-01 10:00:00+01', 'timestamptz')).toBeUndefined();
  });
  it('lets SQL NULL into a column of any type', () => {
    expect(field(undefined, 'numeric')).toBeNull();
    expect(field(null, 'numeric')).toBeNull();
    expect(field(undefined, 'bigint')).toBeNull();
  });
});
