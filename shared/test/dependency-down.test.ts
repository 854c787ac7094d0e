import { describe, expect, it } from 'vitest';
import { BugError, InputError, UnavailableError, isDependencyDown } from '../src/errors.ts';

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('isDependencyDown: the one classification of "a dependency is away"', () => {
  it('recognises refused and broken sockets, PostgreSQL going away and node-postgres connection losses', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND']) expect(isDependencyDown(withCode(code)), code).toBe(true);
    for (const sqlstate of ['08006', '08001', '57P01', '57P03', '53300']) expect(isDependencyDown(withCode(sqlstate)), sqlstate).toBe(true);
    expect(isDependencyDown(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isDependencyDown(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDependencyDown(UnavailableError('later'))).toBe(true);
  });

  it('looks into the AggregateError of a dual-stack connect and into causes', () => {
    expect(isDependencyDown(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''))).toBe(true);
    expect(isDependencyDown(new Error('query failed', { cause: withCode('ECONNRESET') }))).toBe(true);
  });

  it('leaves query errors, named client errors and bugs alone', () => {
    for (const sqlstate of ['42P01', '23505', '22P02']) expect(isDependencyDown(withCode(sqlstate)), sqlstate).toBe(false);
    expect(isDependencyDown(InputError('bad'))).toBe(false);
    expect(isDependencyDown(BugError('oops'))).toBe(false);
    expect(isDependencyDown(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isDependencyDown(new AggregateError([withCode('ECONNREFUSED'), new Error('other')], ''))).toBe(false);
    expect(isDependencyDown(undefined)).toBe(false);
  });
});
