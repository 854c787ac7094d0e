/**
 * The simulator without a network: the events a seed makes (the same every time, whatever the batches),
 * the IoT daily cycle, the anomaly windows, and pacing against a virtual clock (sends never run ahead of the
 * schedule; a sender too slow for it is told so).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Clock } from '@sluice/shared/clock';
import { parseAnomalyFlag, parseDuration, readAnomalyFile, schedule, type AnomalySpec } from './anomalies.ts';
import { parseCli } from './cli.ts';
import { EventStream, type SimEvent, type StreamOptions } from './event-stream.ts';
import type { ProgressReporter, ProgressSnapshot } from './progress.ts';
import { iotScenario } from './scenarios/iot.ts';
import { scenarios } from './scenarios/registry.ts';
import type { ScenarioName } from './scenarios/scenario.ts';
import { runIdOf, runSimulation, type SimulationOptions } from './simulator.ts';
import type { SendResult, SimTarget } from './targets/target.ts';
import { Timeline } from './timeline.ts';
import { TokenBucket } from './token-bucket.ts';

const START = Date.parse('2026-12-01T00:00:00Z');

function stream(
  over: Partial<StreamOptions> & { name?: ScenarioName; specs?: AnomalySpec[] } = {},
): EventStream {
  const { name = 'iot', specs = [], ...rest } = over;
  const entities = rest.entities ?? 20;
  const seed = rest.seed ?? 7;
  const scenario = scenarios[name]({ seed, entities });
  return new EventStream({
    scenario,
    seed,
    entities,
    ratePerSecond: 100,
    startMs: START,
    timeScale: 1,
    skewMs: 0,
    lateFraction: 0,
    lateByMs: 0,
    count: 500,
    anomalies: schedule(specs, START, scenario.shift),
    ...rest,
  });
}

function all(s: EventStream): SimEvent[] {
  const out: SimEvent[] = [];
  for (let e = s.next(); e !== undefined; e = s.next()) out.push(e);
  return out;
}

/** Virtual time: a sleep moves it at once; a slow target moves it by its latency. */
function virtualClock(start = 0): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: (ms) => {
      now += ms;
      return Promise.resolve();
    },
    advance: (ms) => void (now += ms),
  };
}

class MemoryTarget implements SimTarget {
  readonly name = 'stdout' as const;
  readonly events: SimEvent[] = [];
  readonly sends: Array<{ at: number; seq: number; n: number; key: string }> = [];
  readonly #clock: (Clock & { advance(ms: number): void }) | undefined;
  readonly #latencyMs: number;
  constructor(clock?: Clock & { advance(ms: number): void }, latencyMs = 0) {
    this.#clock = clock;
    this.#latencyMs = latencyMs;
  }
  send(events: readonly SimEvent[], key: string): Promise<SendResult> {
    this.sends.push({ at: this.#clock?.now() ?? 0, seq: events.at(-1)!.seq, n: events.length, key });
    this.events.push(...events);
    this.#clock?.advance(this.#latencyMs);
    return Promise.resolve({ accepted: events.length, rejected: 0, reasons: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function recorder(): ProgressReporter & { snapshots: ProgressSnapshot[]; warnings: string[] } {
  const snapshots: ProgressSnapshot[] = [];
  const warnings: string[] = [];
  return {
    snapshots,
    warnings,
    report: (s) => void snapshots.push(s),
    warn: (m) => void warnings.push(m),
    end: () => undefined,
  };
}

const baseOptions: SimulationOptions = {
  scenario: 'iot',
  seed: 3,
  entities: 50,
  ratePerSecond: 1000,
  count: 3000,
  startMs: START,
  timeScale: 1,
  skewMs: 0,
  lateFraction: 0,
  lateByMs: 0,
  anomalies: [],
};

describe('determinism', () => {
  it('makes the same events from the same seed and start, in every scenario, and others from another seed', () => {
    for (const name of ['iot', 'web', 'logs'] as const) {
      const a = all(stream({ name, lateFraction: 0.1, lateByMs: 60_000, skewMs: 2000 }));
      const b = all(stream({ name, lateFraction: 0.1, lateByMs: 60_000, skewMs: 2000 }));
      expect(a).toHaveLength(500);
      expect(b).toEqual(a);
      const other = all(stream({ name, seed: 8 }));
      expect(other.map((e) => e.payload)).not.toEqual(a.map((e) => e.payload));
    }
  });

  it('cuts batches differently without changing an event, and derives batch keys from run and sequence', async () => {
    const small = new MemoryTarget(virtualClock());
    const large = new MemoryTarget(virtualClock());
    await runSimulation({ ...baseOptions, batchSize: 7 }, { target: small, clock: virtualClock() });
    await runSimulation({ ...baseOptions, batchSize: 500 }, { target: large, clock: virtualClock() });
    expect(small.events.map((e) => e.payload)).toEqual(large.events.map((e) => e.payload));
    expect(small.events.map((e) => e.seq)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    const runId = runIdOf(baseOptions);
    expect(runId).toBe(`iot-3-${START / 1000}`);
    expect(small.sends[1]!.key).toBe(`${runId}-7`);
    // No randomness anywhere: a second run sends the very same batches under the very same keys.
    const again = new MemoryTarget(virtualClock());
    await runSimulation({ ...baseOptions, batchSize: 7 }, { target: again, clock: virtualClock() });
    expect(again.sends.map((s) => s.key)).toEqual(small.sends.map((s) => s.key));
  });

  it('gives events their due time as event time, skews each entity by a fixed offset and makes a share late', () => {
    const events = all(stream({ count: 2000, skewMs: 3000, lateFraction: 0.05, lateByMs: 90_000 }));
    const onTime = events.filter((e) => !e.late);
    // One fixed skew per device, within ±3 s.
    const skews = new Map<string, Set<number>>();
    for (const e of onTime)
      skews.set(
        e.entity,
        (skews.get(e.entity) ?? new Set()).add(e.eventTimeMs - Math.floor(START + e.dueMs)),
      );
    for (const [, set] of skews) {
      expect(set.size).toBe(1);
      expect(Math.abs([...set][0]!)).toBeLessThanOrEqual(3000);
    }
    const late = events.filter((e) => e.late);
    expect(late.length).toBeGreaterThan(60);
    expect(late.length).toBeLessThan(140);
    for (const e of late) expect(Math.floor(START + e.dueMs) - e.eventTimeMs).toBeLessThanOrEqual(93_000);
    expect(events.every((e) => e.payload.ts === new Date(e.eventTimeMs).toISOString())).toBe(true);
  });
});

describe('IoT scenario', () => {
  it('follows a daily cycle per site: warmest near 15:00 local, coolest near 03:00, humidity against it', () => {
    // One device, a reading every 10 minutes of event time, for two days.
    const s = stream({ entities: 1, ratePerSecond: 1, timeScale: 600, count: 288 });
    const events = all(s);
    const climate = iotScenario({ seed: 7, entities: 1 }).climate(0);
    const byHour = Array.from({ length: 24 }, () => ({ t: 0, h: 0, n: 0 }));
    for (const e of events) {
      const local = (((new Date(e.eventTimeMs).getUTCHours() + climate.utcOffsetHours) % 24) + 24) % 24;
      byHour[local]!.t += e.payload.temperature as number;
      byHour[local]!.h += e.payload.humidity as number;
      byHour[local]!.n++;
    }
    const temps = byHour.map((b) => b.t / b.n);
    const hums = byHour.map((b) => b.h / b.n);
    const warmest = temps.indexOf(Math.max(...temps));
    const coolest = temps.indexOf(Math.min(...temps));
    expect(warmest).toBeGreaterThanOrEqual(13);
    expect(warmest).toBeLessThanOrEqual(17);
    expect(coolest).toBeGreaterThanOrEqual(1);
    expect(coolest).toBeLessThanOrEqual(5);
    // The swing is the site's amplitude (twice it, peak to trough), give or take the noise.
    expect(Math.max(...temps) - Math.min(...temps)).toBeGreaterThan(2 * climate.amplitude - 1);
    expect(Math.max(...temps) - Math.min(...temps)).toBeLessThan(2 * climate.amplitude + 1);
    expect(hums.indexOf(Math.min(...hums))).toBeGreaterThanOrEqual(13);
    expect(hums.indexOf(Math.min(...hums))).toBeLessThanOrEqual(17);
  });

  it('gives each device its own offset and site, 25 devices a site', () => {
    const events = all(stream({ entities: 60, count: 6000 }));
    const sites = new Set(events.map((e) => e.payload.site));
    expect(sites.size).toBe(3);
    const mean = (device: string): number => {
      const t = events.filter((e) => e.entity === device).map((e) => e.payload.temperature as number);
      return t.reduce((a, b) => a + b, 0) / t.length;
    };
    // Same site (0 and 3), different calibration: the means differ by more than the noise allows.
    const means = [0, 3, 6, 9].map((d) => mean(`dev-${String(d).padStart(5, '0')}`));
    expect(new Set(means.map((m) => m.toFixed(1))).size).toBe(4);
  });
});

describe('web and logs scenarios', () => {
  it('groups web events into sessions that start with a page view and end with session_end', () => {
    const events = all(stream({ name: 'web', entities: 30, count: 3000 }));
    const sessions = new Map<string, Array<Record<string, unknown>>>();
    for (const e of events)
      sessions.set(e.payload.session as string, [
        ...(sessions.get(e.payload.session as string) ?? []),
        e.payload,
      ]);
    const finished = [...sessions.values()].filter((s) => s.at(-1)!.session_end === true);
    expect(finished.length).toBeGreaterThan(100);
    for (const s of finished) {
      expect(s[0]!.type).toBe('page_view');
      expect(s[0]!.referrer).toBeTypeOf('string');
      expect(s.map((p) => p.session_event)).toEqual(s.map((_, i) => i + 1));
      expect(s.at(-1)!.session_events).toBe(s.length);
      expect(new Set(s.map((p) => p.user)).size).toBe(1);
    }
    expect(events.some((e) => e.payload.type === 'click')).toBe(true);
  });

  it('writes logs mostly at info, busier services more, errors with 5xx', () => {
    const events = all(stream({ name: 'logs', entities: 6, count: 5000 }));
    const count = (f: (p: Record<string, unknown>) => boolean): number =>
      events.filter((e) => f(e.payload)).length;
    expect(count((p) => p.level === 'info') / 5000).toBeGreaterThan(0.7);
    expect(count((p) => p.level === 'error')).toBeGreaterThan(50);
    expect(
      events.filter((e) => e.payload.level === 'error').every((e) => (e.payload.status as number) >= 500),
    ).toBe(true);
    expect(count((p) => p.service === 'api')).toBeGreaterThan(count((p) => p.service === 'checkout') * 2);
  });
});

describe('anomalies', () => {
  const window = (events: SimEvent[], fromS: number, toS: number): SimEvent[] =>
    events.filter((e) => e.eventTimeMs >= START + fromS * 1000 && e.eventTimeMs < START + toS * 1000);

  it('spike: the rate × factor inside the window only', () => {
    const s = stream({
      count: undefined,
      durationMs: 30_000,
      specs: [{ kind: 'spike', at: '10s', duration: '5s', factor: 4 }],
    });
    const events = all(s);
    expect(window(events, 0, 10)).toHaveLength(1000);
    expect(window(events, 10, 15)).toHaveLength(2000);
    expect(window(events, 15, 30)).toHaveLength(1500);
    expect(s.affected).toEqual([2000]);
  });

  it('silence: the target sends nothing in the window and carries on after; without a target the stream stops', () => {
    const specs: AnomalySpec[] = [{ kind: 'silence', at: '5s', duration: '10s', target: 'dev-00004' }];
    const events = all(stream({ count: undefined, durationMs: 20_000, specs }));
    const of = (list: SimEvent[]) => list.filter((e) => e.entity === 'dev-00004');
    expect(of(window(events, 5, 15))).toHaveLength(0);
    expect(of(window(events, 0, 5))).toHaveLength(25);
    expect(of(window(events, 15, 20))).toHaveLength(25);
    expect(window(events, 5, 15)).toHaveLength(950);
    const whole = stream({
      count: undefined,
      durationMs: 20_000,
      specs: [{ kind: 'silence', at: '5s', duration: '10s' }],
    });
    const quiet = all(whole);
    expect(window(quiet, 5, 15)).toHaveLength(0);
    expect(quiet).toHaveLength(1000);
    expect(whole.affected).toEqual([1000]);
  });

  it('shift: the field + delta for the target in the window, everything else as in a clean run', () => {
    const clean = all(stream({ count: 2000 }));
    const shifted = all(
      stream({
        count: 2000,
        specs: [{ kind: 'shift', at: '4s', duration: '6s', delta: 7.5, target: 'dev-00002' }],
      }),
    );
    expect(shifted.map((e) => e.seq)).toEqual(clean.map((e) => e.seq));
    let changed = 0;
    shifted.forEach((e, i) => {
      const before = clean[i]!;
      const inside =
        e.entity === 'dev-00002' && e.eventTimeMs >= START + 4000 && e.eventTimeMs < START + 10_000;
      if (inside) {
        changed++;
        expect(e.payload.temperature).toBeCloseTo((before.payload.temperature as number) + 7.5, 5);
        expect({ ...e.payload, temperature: 0 }).toEqual({ ...before.payload, temperature: 0 });
      } else expect(e.payload).toEqual(before.payload);
    });
    expect(changed).toBe(30);
  });

  it('reports the schedule it injected, in absolute event time', async () => {
    const target = new MemoryTarget(virtualClock());
    const summary = await runSimulation(
      {
        ...baseOptions,
        count: undefined,
        durationMs: 60_000,
        ratePerSecond: 100,
        timeScale: 10,
        anomalies: [
          parseAnomalyFlag('spike@2m+1m:factor=3'),
          parseAnomalyFlag('silence@5m+2m:target=dev-00001'),
          parseAnomalyFlag('shift@8m+1m'),
        ],
      },
      { target, clock: virtualClock() },
    );
    expect(summary.anomalies).toEqual([
      {
        kind: 'spike',
        from: '2026-12-01T00:02:00.000Z',
        to: '2026-12-01T00:03:00.000Z',
        target: null,
        factor: 3,
        events: 1800,
      },
      {
        kind: 'silence',
        from: '2026-12-01T00:05:00.000Z',
        to: '2026-12-01T00:07:00.000Z',
        target: 'dev-00001',
        events: 24,
      },
      {
        kind: 'shift',
        from: '2026-12-01T00:08:00.000Z',
        to: '2026-12-01T00:09:00.000Z',
        target: null,
        delta: 6,
        field: 'temperature',
        events: 600,
      },
    ]);
    expect(summary.sent).toBe(6000 + 1200 - 24);
    expect(summary.suppressed).toBe(24);
  });

  it('reads flags and files, and refuses what it cannot place with the reason', () => {
    expect(parseAnomalyFlag('shift@15m+10m:delta=6,field=humidity,target=dev-00003')).toEqual({
      kind: 'shift',
      at: '15m',
      duration: '10m',
      delta: 6,
      field: 'humidity',
      target: 'dev-00003',
    });
    expect(parseDuration('1h30m', 'x')).toBe(5_400_000);
    expect(parseDuration('250ms', 'x')).toBe(250);
    expect(parseDuration(90, 'x')).toBe(90_000);
    const dir = mkdtempSync(join(tmpdir(), 'sim-'));
    writeFileSync(
      join(dir, 'a.yaml'),
      'anomalies:\n  - kind: spike\n    at: 5m\n    duration: 1m\n    factor: 4\n',
    );
    expect(readAnomalyFile(join(dir, 'a.yaml'))).toEqual([
      { kind: 'spike', at: '5m', duration: '1m', factor: 4 },
    ]);
    writeFileSync(join(dir, 'b.json'), JSON.stringify([{ kind: 'silence', at: 10, duration: '1m' }]));
    expect(readAnomalyFile(join(dir, 'b.json'))).toEqual([{ kind: 'silence', at: 10, duration: '1m' }]);
    const refused: Array<[() => unknown, RegExp]> = [
      [() => parseAnomalyFlag('spike5m'), /expected kind@at\+duration/],
      [() => parseAnomalyFlag('boom@5m+1m'), /kind must be one of spike, silence, shift/],
      [() => parseAnomalyFlag('spike@5m+1m:target=dev-00001'), /takes no target/],
      [() => parseAnomalyFlag('spike@5m+0s'), /duration must be more than 0/],
      [() => parseAnomalyFlag('shift@soon+1m'), /"soon" is not a duration/],
      [() => parseAnomalyFlag('shift@5m+1m:delta=big'), /"big" is not a number/],
      [() => parseAnomalyFlag('silence@5m+1m:delta=3'), /for shifts only/],
      [
        () => stream({ specs: [{ kind: 'silence', at: '1s', duration: '1s', target: 'dev-99999' }] }),
        /not one of the 20 devices/,
      ],
    ];
    for (const [call, message] of refused) expect(call).toThrow(message);
  });
});

describe('timeline and token bucket', () => {
  it('answers due times and counts that invert each other through spikes and silences', () => {
    const scenario = iotScenario({ seed: 1, entities: 1 });
    const t = new Timeline(
      10,
      schedule(
        [
          { kind: 'spike', at: '2s', duration: '1s', factor: 5 },
          { kind: 'silence', at: '4s', duration: '2s' },
        ],
        START,
        scenario.shift,
      ),
      START,
      1,
    );
    expect(t.countBy(2000)).toBe(20);
    expect(t.countBy(3000)).toBe(70);
    expect(t.countBy(6000)).toBe(80);
    expect(t.dueAt(80)).toBe(6000);
    expect(t.dueAt(20)).toBe(2000);
    expect(t.dueAt(21)).toBe(2020);
    for (let k = 0; k < 120; k++) expect(t.countBy(t.dueAt(k))).toBeCloseTo(k, 6);
    expect(t.rateAt(4500)).toBe(0);
  });

  it('makes a sender wait for tokens, and counts what spills when it is too slow', () => {
    const fill = { countBy: (ms: number) => ms / 10, dueAt: (k: number) => k * 10 }; // 100/s
    const bucket = new TokenBucket(fill, 50);
    expect(bucket.take(1, 0)).toBe(0);
    expect(bucket.take(10, 0)).toBe(100);
    expect(bucket.take(10, 100)).toBe(100);
    expect(bucket.spilled).toBe(0);
    // Away for 2 s: 200 tokens arrive, the bucket holds 50 of them.
    expect(bucket.take(50, 2200)).toBe(0);
    expect(bucket.spilled).toBeGreaterThan(100);
  });

  it('never sends ahead of the schedule, and keeps up with it when the target is fast', async () => {
    const clock = virtualClock(1_000_000);
    const target = new MemoryTarget(clock);
    const summary = await runSimulation(
      { ...baseOptions, ratePerSecond: 2000, count: 10_000, batchSize: 100 },
      { target, clock },
    );
    const timeline = new Timeline(2000, [], START, 1);
    for (const s of target.sends)
      expect(s.seq).toBeLessThanOrEqual(timeline.countBy(s.at - 1_000_000) + 1e-6);
    expect(summary.elapsedSeconds).toBeCloseTo(5, 1);
    expect(summary.keptUp).toBe(true);
    expect(summary.behindEvents).toBe(0);
    expect(summary.achievedRate).toBeGreaterThan(1900);
  });

  it('says once, and in the summary, when the target is too slow for the rate', async () => {
    const clock = virtualClock();
    const progress = recorder();
    // Each request takes 100 ms, one at a time, 100 events each: at most 1,000/s against 5,000/s asked.
    const summary = await runSimulation(
      { ...baseOptions, ratePerSecond: 5000, count: 20_000, batchSize: 100, concurrency: 1 },
      { target: new MemoryTarget(clock, 100), clock, progress },
    );
    expect(summary.keptUp).toBe(false);
    expect(summary.achievedRate).toBeLessThan(1100);
    expect(summary.targetRate).toBe(5000);
    expect(summary.behindEvents).toBeGreaterThan(10_000);
    expect(progress.warnings).toHaveLength(1);
    expect(progress.warnings[0]).toMatch(/cannot keep up with the target rate/);
    expect(progress.snapshots.at(-1)!.behind).toBeGreaterThan(0);
  });
});

describe('command line', () => {
  it('reads the options and refuses bad ones with the flag at fault', () => {
    const { options, target } = parseCli(
      [
        '--scenario',
        'logs',
        '--services',
        '4',
        '--rate',
        '250',
        '--duration',
        '2m',
        '--seed',
        'demo',
        '--start',
        '2026-12-01T00:00:00Z',
        '--anomaly',
        'spike@1m+10s',
      ],
      START,
    );
    expect(target).toBe('stdout');
    expect(options).toMatchObject({
      scenario: 'logs',
      entities: 4,
      ratePerSecond: 250,
      durationMs: 120_000,
      startMs: START,
      anomalies: [{ kind: 'spike', at: '1m', duration: '10s' }],
    });
    expect(parseCli(['--seed', 'demo']).options.seed).toBe(options.seed);
    expect(parseCli([], START + 1234).options).toMatchObject({
      scenario: 'iot',
      entities: 100,
      count: 1000,
      startMs: START + 1000,
    });
    const refused: Array<[string[], RegExp]> = [
      [['--scenario', 'mars'], /--scenario must be one of iot, web, logs/],
      [['--target', 'ingest'], /needs --dataset/],
      [['--rate', '0'], /--rate: "0" must be a number more than 0/],
      [['--count', '1.5'], /whole number/],
      [['--count', '5', '--duration', '1m'], /not both/],
      [['--devices', '3', '--users', '4'], /one of --devices/],
      [['--start', 'yesterday'], /not a date-time/],
      [['--late-fraction', '2'], /between 0 and 1/],
      [['--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [argv, message] of refused) expect(() => parseCli(argv)).toThrow(message);
  });
});
