/* eslint-disable @typescript-eslint/no-unsafe-assignment -- vitest's asymmetric matchers (expect.stringContaining) are typed any */
import { describe, expect, it } from 'vitest';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isSluiceError } from '@sluice/shared/errors';
import { ValidatorCache, createAjv, describeErrors } from './validators.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const timed = <T>(work: () => T): { result: T; ms: number } => {
  const started = performance.now();
  const result = work();
  return { result, ms: performance.now() - started };
};

const refusal = (schema: unknown): { message: string; details: unknown } => {
  try {
    ValidatorCache.assertValidSchema(schema);
  } catch (error) {
    if (isSluiceError(error, 'InputError')) return { message: error.message, details: error.details };
    throw error;
  }
  throw new Error('schema was accepted');
};

describe('payload validation: own properties only', () => {
  const validators = new ValidatorCache();
  const check = (schema: Record<string, unknown>, payload: unknown): boolean => validators.check(`own${JSON.stringify(schema)}`, 1, schema, payload).valid;

  it('does not take Object.prototype members for fields', () => {
    // Parsed, as a published schema is: a `__proto__` key in a literal would set the prototype instead.
    const schema = JSON.parse('{"type":"object","properties":{"constructor":{"type":"string"},"toString":{"type":"number"},"__proto__":{"type":"string"}}}') as Record<string, unknown>;
    expect(check(schema, {})).toBe(true);
    expect(check(schema, { constructor: 'c', toString: 1 })).toBe(true);
    expect(check(schema, { constructor: 1 })).toBe(false);
  });

  it('does not count inherited members as present for required / dependentRequired', () => {
    expect(check({ type: 'object', required: ['toString'] }, {})).toBe(false);
    expect(check({ type: 'object', required: ['hasOwnProperty'] }, { hasOwnProperty: 1 })).toBe(true);
    expect(check({ type: 'object', dependentRequired: { a: ['valueOf'] } }, { a: 1 })).toBe(false);
  });
});

describe('payload validation: linear time whatever the schema', () => {
  const validators = new ValidatorCache();

  it('runs catastrophic-backtracking patterns in linear time (RE2)', () => {
    const schema = { type: 'object', properties: { code: { type: 'string', pattern: '^(a+)+$' } }, patternProperties: { '^(x+x+)+y$': { type: 'string' } } };
    const validate = validators.validator('redos', 1, schema);
    // A backtracking engine takes about 2^n steps here; at n = 100 000 nothing but a linear one finishes.
    for (const payload of [{ code: `${'a'.repeat(28)}!` }, { code: `${'a'.repeat(100_000)}!` }, { [`${'x'.repeat(100_000)}!`]: 1 }]) {
      const { result, ms } = timed(() => validate(payload));
      expect(ms).toBeLessThan(250);
      expect(result.valid).toBe(!('code' in payload));
    }
    expect(validate({ code: 'aaaa' }).valid).toBe(true);
  });

  it('checks uniqueItems without comparing every pair, with the same verdicts and messages', () => {
    const validate = validators.validator('unique', 1, { type: 'array', uniqueItems: true });
    const distinct = Array.from({ length: 150_000 }, (_, i) => i);
    const { result, ms } = timed(() => validate(distinct));
    expect(result.valid).toBe(true);
    expect(ms).toBeLessThan(1_000);
    expect(validate([{ a: 1, b: [1, { c: 2 }] }, 'x', { b: [1, { c: 2 }], a: 1 }])).toEqual({ valid: false, reason: '/: must NOT have duplicate items (items ## 0 and 2 are identical)' });
    expect(validate([1, '1', [1], { 1: 1 }, null, true, 1.5]).valid).toBe(true);
    expect(validate([1, 1.0]).valid).toBe(false);
  });

  it('checks formats in linear time, with the verdicts of ajv-formats on ordinary values', () => {
    const ours = createAjv();
    const reference = new Ajv2020({ strict: false });
    addFormats(reference);
    const samples = ['', 'a', 'http://example.com/x?y=1', 'https://10.0.0.1/', 'ftp://a.b', 'mailto:x@y.z', 'x@y.z', 'a.b-c.de', '::1', '10.1.2.3', '2001:db8::1', 'QUJD', 'QUI=', 'QQ', '/a~1b', '0/a', '^a+$', '(', 'P1Y2M', 'PT', 'urn:x:y', '{a}/b', 'a b', '00000000-0000-0000-0000-000000000000', 'http://10.0.0.1/', 'http://172.16.0.1', 'http://172.160.0.1', 'http://192.168.1.1:80', 'http://8.8.8.8', 'http://a@example.com/x@10.0.0.1', `https://example.com/${'a'.repeat(3_000)}`];
    for (const format of ['uri', 'uri-reference', 'uri-template', 'url', 'email', 'hostname', 'ipv4', 'ipv6', 'regex', 'uuid', 'json-pointer', 'relative-json-pointer', 'byte', 'duration']) {
      const validate = ours.compile({ type: 'string', format });
      const expected = reference.compile({ type: 'string', format });
      for (const s of samples) expect([format, s, validate(s)]).toEqual([format, s, expected(s)]);
      // On RE2, url needs no length bound: a long URL is checked like a short one.
      if (format === 'url') expect(validate(`https://example.com/${'a'.repeat(100_000)}`)).toBe(true);
      // ajv-formats' own url took 1.8 s on 50 000 characters of this, and 4x that per doubling; 100 000
      // keeps a regression failing within seconds.
      for (const unit of ['http://1:', '](', 'ab:}', '@[', 'a.']) {
        const { ms } = timed(() => validate(unit.repeat(Math.ceil(100_000 / unit.length))));
        expect([format, unit, ms < 250]).toEqual([format, unit, true]);
      }
    }
  });

  it('refuses a record whose validation would exceed the per-record budget, the same way every time', () => {
    // Each level of nesting doubles the work: 2^40 evaluations would take days.
    const schema = { $ref: '#/$defs/n', $defs: { n: { type: 'array', items: { oneOf: [{ $ref: '#/$defs/n' }, { $ref: '#/$defs/n' }] } } } };
    const nested = (depth: number): unknown => (depth === 0 ? [] : [nested(depth - 1)]);
    const validate = validators.validator('exponential', 1, schema);
    const first = timed(() => validate(nested(40)));
    expect(first.result).toEqual({ valid: false, reason: expect.stringContaining('the budget of one record') });
    expect(first.ms).toBeLessThan(2_000);
    expect(validate(nested(40))).toEqual(first.result);
    expect(validate(nested(8)).valid).toBe(false);
    expect(validate(nested(8))).not.toEqual(first.result);
    // An ordinary record of about 1 MiB stays far inside it.
    const rows = Array.from({ length: 40_000 }, (_, i) => ({ id: i, name: `row-${i}`, tags: ['a', 'b'] }));
    const table = { type: 'array', items: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } } } };
    expect(validators.validator('table', 1, table)(rows)).toEqual({ valid: true });
  });

  it('reports a capped number of errors', () => {
    const validate = validators.validator('many', 1, { type: 'array', items: { type: 'string' } });
    const result = validate(Array.from({ length: 10_000 }, (_, i) => i));
    expect(result.valid).toBe(false);
    if (!result.valid) expect(result.reason).toMatch(/^\/0: must be string; .*\/19: must be string; and 9980 more$/);
    expect(describeErrors([])).toBe('invalid');
  });

  it('dead-letters (never throws for) a stored schema that can no longer be compiled', () => {
    const validate = validators.validator('legacy', 3, { type: 'string', pattern: '(a)\\1' });
    expect(validate('aa')).toEqual({ valid: false, reason: expect.stringContaining('schema cannot be compiled') });
  });
});

describe('schema publish: patterns must run on RE2', () => {
  it('names the schema path of each pattern RE2 refuses', () => {
    const { message, details } = refusal({
      type: 'object',
      properties: { code: { type: 'string', pattern: '^(\\w)\\1$' }, tags: { type: 'array', items: { propertyNames: { pattern: '^(?=x)' } } } },
      patternProperties: { '^(?!tmp_)': true, '^ok$': { type: 'string' } },
      enum: [{ pattern: '(a)\\1' }],
    });
    expect(message).toContain('/properties/code/pattern');
    expect(details).toEqual([
      { path: '/patternProperties/^(?!tmp_)', message: expect.stringContaining('not supported') },
      { path: '/properties/code/pattern', message: expect.stringContaining('no backreferences or lookaround') },
      { path: '/properties/tags/items/propertyNames/pattern', message: expect.stringContaining('RE2') },
    ]);
  });

  it('accepts what RE2 runs: classes, anchors, alternation, counted repetition, Unicode properties', () => {
    expect(() => ValidatorCache.assertValidSchema({ type: 'string', pattern: '^(?:[A-Z]{2}-\\d{3,5}|\\p{L}+)$' })).not.toThrow();
    const validate = createAjv().compile({ type: 'string', pattern: '^\\p{L}+$' });
    expect([validate('Grüße'), validate('a1')]).toEqual([true, false]);
  });
});
