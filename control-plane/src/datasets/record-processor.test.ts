import { describe, expect, it } from 'vitest';
import type { DatasetVersion } from '@sluice/shared/dataset';
import type { Envelope } from '@sluice/shared/envelope';
import { checkProcessing, RecordProcessor, type ReferenceData } from './record-processor.ts';

const refs: ReferenceData = {
  prepare: () => Promise.resolve(),
  lookup: (table, key) => (table === 'devices' && key === 'd1' ? { found: true, value: { site: 'berlin', floor: 2 } } : { found: false }),
  agentLabels: (id) => (id === 'gw-1' ? { site: 'berlin' } : undefined),
};

const envelope = (payload: unknown, over: Partial<Envelope> = {}): Envelope => ({
  id: `r-${JSON.stringify(payload)}`,
  dataset: 'readings',
  agentId: 'gw-1',
  source: { id: 'push', kind: 'http-push' },
  eventTime: '2026-12-03T10:00:00.000Z',
  ingestTime: '2026-12-03T10:00:05.000Z',
  payload,
  ...over,
});

const version = (transforms: DatasetVersion['transforms'], rules: DatasetVersion['rules'] = []): DatasetVersion => ({ spec: { name: 'readings', sinks: {} }, version: 1, schema: {}, transforms, rules });

describe('transforms', () => {
  it('renames, drops, sets, derives, enriches and looks up, in order, on a copy', async () => {
    const p = RecordProcessor.of(
      version([
        { rename: { from: '/t', to: '/reading/celsius' } },
        { drop: ['/secret', '/nope'] },
        { set: { field: '/unit', value: 'C' } },
        { derive: { field: '/reading/fahrenheit', expression: 'reading.celsius * 9 / 5 + 32' } },
        { derive: { field: '/agentFromEnvelope', expression: '$envelope.agentId' } },
        { enrich: { field: '/labels', from: 'agentLabels' } },
        { enrich: { field: '/ingestedAt', from: 'ingestTime' } },
        { lookup: { table: 'devices', key: '/device', into: '/deviceInfo' } },
      ]),
    )!;
    const input = envelope({ t: 20, secret: 'x', device: 'd1' });
    const out = await p.transform(input, refs);
    expect(out).toEqual({
      payload: {
        reading: { celsius: 20, fahrenheit: 68 },
        device: 'd1',
        unit: 'C',
        agentFromEnvelope: 'gw-1',
        labels: { site: 'berlin' },
        ingestedAt: '2026-12-03T10:00:05.000Z',
        deviceInfo: { site: 'berlin', floor: 2 },
      },
    });
    expect(input.payload).toEqual({ t: 20, secret: 'x', device: 'd1' });
  });

  it('a missing lookup row: kept out, null, or a reason for the DLQ', async () => {
    const lookup = (missing: 'keep' | 'null' | 'fail') => RecordProcessor.of(version([{ lookup: { table: 'devices', key: '/device', into: '/info', missing } }]))!;
    expect(await lookup('keep').transform(envelope({ device: 'zz' }), refs)).toEqual({ payload: { device: 'zz' } });
    expect(await lookup('null').transform(envelope({ device: 'zz' }), refs)).toEqual({ payload: { device: 'zz', info: null } });
    expect(await lookup('fail').transform(envelope({ device: 'zz' }), refs)).toEqual({ reason: 'transforms[0] lookup devices: no row for "zz"' });
  });

  it('stops a slow expression at its time limit, and benches it after three in a row', async () => {
    const p = RecordProcessor.of(version([{ derive: { field: '/x', expression: '$sum([1..2000000].($ * 2))', timeoutMs: 20 } }]))!;
    const started = Date.now();
    for (let i = 0; i < 3; i++) expect(await p.transform(envelope({ i }), refs)).toEqual({ reason: 'transforms[0] derive /x: the expression ran out of time (20 ms)' });
    const benched = await p.transform(envelope({ i: 4 }), refs);
    expect('reason' in benched && benched.reason).toMatch(/ran out of time \(20 ms\) 3 times in a row; not evaluated until /);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('writes own fields only: a pointer through __proto__ names a field, never Object.prototype', async () => {
    const p = RecordProcessor.of(version([{ set: { field: '/__proto__/polluted', value: 'yes' } }, { rename: { from: '/a', to: '/constructor/prototype/b' } }]))!;
    const out = await p.transform(envelope({ a: 1 }), refs);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).b).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"payload":{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"b":1}}}}');
  });

  it('dead-letters a record a transform cannot be applied to, instead of failing the batch', async () => {
    const p = RecordProcessor.of(version([{ set: { field: '/list/length', value: 'many' } }]))!;
    expect(await p.transform(envelope({ list: [1, 2] }), refs)).toEqual({ reason: 'transforms[0]: could not be applied: Invalid array length' });
  });

  it('bounds $pad, which builds its result in one step the time limit cannot interrupt', async () => {
    const pad = (expression: string) => RecordProcessor.of(version([{ derive: { field: '/p', expression } }]))!.transform(envelope({}), refs);
    expect(await pad('[$pad("ab", 5, "-"), $pad("ab", -5), $pad("ab", 6, "xy"), $pad("abcdef", 3)]')).toEqual({ payload: { p: ['ab---', '   ab', 'abxyxy', 'abcdef'] } });
    const started = Date.now();
    expect(await pad('$length($pad("x", 100000000))')).toEqual({ reason: 'transforms[0] derive /p: the expression failed: $pad width 100000000 is over the limit of 100000' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('refuses an expression that does not parse, naming where', () => {
    expect(() => checkProcessing([{ derive: { field: '/x', expression: 'a +' } }])).toThrow(/^transforms\[0\]: the expression does not parse/);
    expect(() => checkProcessing([], [{ name: 'r', expression: { expression: '((' } }])).toThrow(/^rule r: the expression does not parse/);
  });

  it('runs regular expressions on RE2: a hostile pattern answers at once', async () => {
    const p = RecordProcessor.of(version([{ derive: { field: '/m', expression: '$contains(s, /(a+)+$/)' } }]))!;
    const started = Date.now();
    expect(await p.transform(envelope({ s: `${'a'.repeat(5000)}!` }), refs)).toEqual({ payload: { s: `${'a'.repeat(5000)}!`, m: false } });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('quality rules', () => {
  const p = RecordProcessor.of(
    version(
      [],
      [
        { name: 'has_device', notEmpty: '/device' },
        { name: 'sane_temp', severity: 'warn', range: { field: '/t', min: -40, max: 60 } },
        { name: 'known_unit', allowed: { field: '/unit', values: ['C', 'F'] } },
        { name: 'reason_if_error', requiredIf: { field: '/reason', when: { field: '/status', equals: 'error' } } },
        { name: 'fresh', severity: 'warn', freshness: { maxAgeSeconds: 60 } },
        { name: 'window_order', expression: { expression: 'end >= start' } },
        { name: 'unique_seq', unique: { field: '/seq', windowMinutes: 5 } },
      ],
    ),
  )!;
  const outcomes = async (payload: Record<string, unknown>, over: Partial<Envelope> = {}) =>
    Object.fromEntries((await p.judge(envelope({ device: 'd', t: 20, unit: 'C', start: 1, end: 2, seq: Math.random(), ...payload }, over))).map((o) => [o.rule, o.outcome]));

  it('passes a good record on every rule', async () => {
    expect(Object.values(await outcomes({}))).toEqual(Array(7).fill('pass'));
  });

  it('fails or warns each rule on what breaks it', async () => {
    expect(await outcomes({ device: '' })).toMatchObject({ has_device: 'fail' });
    expect(await outcomes({ t: 99 })).toMatchObject({ sane_temp: 'warn' });
    expect(await outcomes({ unit: 'K' })).toMatchObject({ known_unit: 'fail' });
    expect(await outcomes({ status: 'error' })).toMatchObject({ reason_if_error: 'fail' });
    expect(await outcomes({ status: 'error', reason: 'disk' })).toMatchObject({ reason_if_error: 'pass' });
    expect(await outcomes({}, { eventTime: '2026-12-03T09:00:00.000Z' })).toMatchObject({ fresh: 'warn' });
    expect(await outcomes({ start: 5, end: 2 })).toMatchObject({ window_order: 'fail' });
  });

  it('flags a value seen again within the window, but not the same record delivered again', async () => {
    const first = envelope({ seq: 7 }, { id: 'a' });
    const again = envelope({ seq: 7 }, { id: 'a' });
    const other = envelope({ seq: 7 }, { id: 'b' });
    const unique = RecordProcessor.of(version([], [{ name: 'u', unique: { field: '/seq', windowMinutes: 5 } }]))!;
    expect((await unique.judge(first))[0]?.outcome).toBe('pass');
    expect((await unique.judge(again))[0]?.outcome).toBe('pass');
    expect(await unique.judge(other)).toEqual([{ rule: 'u', outcome: 'fail', reason: '/seq = 7 was already seen 0 s ago (record a)', value: 7 }]);
    expect((await unique.judge(other, Date.now() + 6 * 60_000))[0]?.outcome).toBe('pass');
  });
});

describe('expression time', () => {
  it('counts an uninterruptible step that overran the limit as running out of time', async () => {
    const p = RecordProcessor.of(version([{ derive: { field: '/x', expression: '$sum([1..5000000])', timeoutMs: 5 } }]))!;
    expect(await p.transform(envelope({ i: 1 }), refs)).toEqual({ reason: 'transforms[0] derive /x: the expression ran out of time (5 ms)' });
  });
});
