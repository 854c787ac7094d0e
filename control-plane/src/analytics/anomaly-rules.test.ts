import { describe, expect, it } from 'vitest';
import { DAY_MS, detectionSettings, evaluateSeries, evaluateSilence, judgePane, robustCentre, type AnomalyRecord, type SeriesData } from './anomaly-rules.ts';
import { PANE_MS } from './pane-fold.ts';

const T0 = Date.UTC(2026, 4, 1, 0, 0, 0);
const settings = detectionSettings(undefined);

/** Deterministic noise: mulberry32 and Box-Muller, so a failure is reproducible. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** `panes` panes from T0 of `value(i)`; counts rounded and ≥ 0. */
function series(panes: number, value: (i: number) => number | undefined, counts = true): SeriesData {
  const values = new Map<number, number>();
  for (let i = 0; i < panes; i++) {
    const v = value(i);
    if (v === undefined) continue;
    const x = counts ? Math.max(0, Math.round(v)) : v;
    if (!counts || x > 0) values.set(T0 + i * PANE_MS, x);
  }
  return { kind: counts ? 'volume' : 'measure', key: '', counts, values, firstSeen: values.size === 0 ? undefined : Math.min(...values.keys()) };
}

const noisy = (seed: number, level = 100, sd = 10) => {
  const r = rng(seed);
  return () => level + sd * gaussian(r);
};
const at = (i: number) => T0 + i * PANE_MS;
const evaluateAll = (s: SeriesData, panes: number, opts = settings) => evaluateSeries(s, T0, at(panes), opts);

describe('robust baseline', () => {
  it('median and MAD ignore a few wild values', () => {
    expect(robustCentre([1, 2, 3, 4, 1000])).toEqual({ median: 3, mad: 1 });
    expect(robustCentre([5, 5, 5, 5])).toEqual({ median: 5, mad: 0 });
  });

  it('judges nothing before minHistoryPanes panes of history, nor a sparse series', () => {
    const fresh = series(200, (i) => (i < 150 ? undefined : i === 160 ? 10_000 : 100));
    expect(judgePane(fresh, at(160), settings)).toBeUndefined();
    expect(judgePane(fresh, at(199), settings)).toMatchObject({ flagged: false, expected: 100 });
    // Rows in 1 pane of 4: the filter skips it, however large a pane gets.
    const sparse = series(200, (i) => (i % 4 === 0 || i === 150 ? (i === 150 ? 10_000 : 100) : 0));
    expect(judgePane(sparse, at(150), settings)).toBeUndefined();
  });

  it('floors the band of a flat count at its Poisson noise, so ±1 row is no anomaly', () => {
    const flat = series(100, (i) => (i === 80 ? 101 : 100));
    expect(judgePane(flat, at(80), settings)).toMatchObject({ expected: 100, flagged: false, low: 50, high: 150 });
  });
});

describe('detection with persistence (k of n)', () => {
  it('a clean noisy series raises no anomaly; the same series with a spike raises exactly one, opened and resolved', () => {
    const panes = 360;
    const clean = noisy(7);
    expect(evaluateAll(series(panes, clean), panes)).toEqual([]);

    const base = noisy(7);
    const spiked = series(panes, (i) => (i >= 200 && i < 204 ? 400 : 0) + base());
    const found = evaluateAll(spiked, panes);
    expect(found).toHaveLength(1);
    const [a] = found as [AnomalyRecord];
    expect(a).toMatchObject({ kind: 'volume', direction: 'high', state: 'resolved', windowStart: at(200), windowEnd: at(204), openedAt: at(203) });
    // Resolved after resolveAfterPanes (5) panes back in band.
    expect(a.resolvedAt).toBe(at(209));
    expect(a.observed).toBeGreaterThan(450);
    expect(a.expected).toBeGreaterThan(90);
    expect(a.expected).toBeLessThan(110);
    expect(a.bandHigh).toBeLessThan(a.observed);
    expect(a.score).toBeGreaterThan(settings.threshold);
  });

  it('opens only when k of the last n panes are out of band in the same direction', () => {
    const base = noisy(11);
    const spikes = (at: number[]) => series(300, (i) => (at.includes(i) ? 1000 : base()));
    expect(evaluateAll(spikes([200]), 300)).toEqual([]);
    expect(evaluateAll(spikes([200, 202]), 300)).toEqual([]);
    // 3 of 5: opens at the third, the window starting at the first.
    const three = evaluateAll(spikes([200, 202, 204]), 300);
    expect(three).toHaveLength(1);
    expect(three[0]).toMatchObject({ windowStart: at(200), openedAt: at(205), windowEnd: at(205) });
    // Three spikes spread wider than 5 panes never make 3 of 5.
    expect(evaluateAll(spikes([200, 203, 206, 209]), 300)).toEqual([]);
    const strict = detectionSettings({ persistence: { k: 1, n: 1 } });
    expect(evaluateAll(spikes([200]), 300, strict)).toHaveLength(1);
  });

  it('detects a drop in a measure (a series without counts) and none in its clean twin', () => {
    const base = noisy(3, 21.5, 0.4);
    expect(evaluateAll(series(300, base, false), 300)).toEqual([]);
    const base2 = noisy(3, 21.5, 0.4);
    const dropped = series(300, (i) => (i >= 250 && i < 260 ? 12 : base2()), false);
    const found = evaluateAll(dropped, 300);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ kind: 'measure', direction: 'low', windowStart: at(250), windowEnd: at(260), state: 'resolved' });
  });

  it('gives the same anomalies evaluated in one go or pane by pane, carrying the open one over', () => {
    const base = noisy(5);
    const s = series(320, (i) => (i >= 250 && i < 262 ? 300 : base()));
    const once = evaluateAll(s, 320);
    let carry: { open?: AnomalyRecord; notBefore?: number } = {};
    const stepwise = new Map<number, AnomalyRecord>();
    for (let i = 0; i < 320; i++) {
      for (const a of evaluateSeries(s, at(i), at(i + 1), settings, carry)) {
        stepwise.set(a.windowStart, a);
        carry = a.state === 'open' ? { open: a } : { notBefore: a.resolvedAt ?? undefined };
      }
    }
    expect([...stepwise.values()]).toEqual(once);
    expect(once).toHaveLength(1);
  });

  it('with a day of history, expects the daily cycle (seasonal) and still finds a spike on it', () => {
    const cycle = (seed: number) => {
      const r = rng(seed);
      return (i: number) => 300 + 250 * Math.sin((2 * Math.PI * i) / 1440) + 8 * gaussian(r);
    };
    const day2 = 1440 + 60;
    const clean = series(2 * 1440, cycle(9));
    expect(evaluateSeries(clean, at(day2), at(2 * 1440), settings)).toEqual([]);
    const c = cycle(9);
    const spiked = series(2 * 1440, (i) => (i >= 2000 && i < 2004 ? 150 : 0) + c(i));
    const found = evaluateSeries(spiked, at(day2), at(2 * 1440), settings);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ windowStart: at(2000), direction: 'high' });
    // The seasonal expectation follows the cycle: at the spike, yesterday's level at that minute plus today's offset.
    const v = judgePane(spiked, at(2001), settings)!;
    const yesterday = 300 + 250 * Math.sin((2 * Math.PI * (2001 - 1440)) / 1440);
    expect(Math.abs(v.expected - yesterday)).toBeLessThan(15);
    expect(at(2001) - DAY_MS).toBe(at(561));
  });
});

describe('silence', () => {
  it('a source that was sending and stops opens a silence anomaly, resolved by its next rows', () => {
    const base = noisy(13, 20, 4);
    const s = series(200, (i) => (i >= 120 && i < 140 ? 0 : base()));
    const found = evaluateSilence(s, 'silence', T0, at(200), settings);
    expect(found).toEqual([
      expect.objectContaining({ kind: 'silence', direction: 'silent', windowStart: at(120), windowEnd: at(140), openedAt: at(125), resolvedAt: at(141), state: 'resolved', score: 20, observed: 0 }),
    ]);
    // The volume detector leaves panes without rows to the silence detector: no second anomaly for the same gap.
    expect(evaluateAll(s, 200)).toEqual([]);
  });

  it('is still open while the source stays quiet, and raises nothing for a source whose history has such gaps', () => {
    const base = noisy(17, 20, 4);
    const stopped = series(200, (i) => (i >= 150 ? 0 : base()));
    const open = evaluateSilence(stopped, 'silence', T0, at(200), settings);
    expect(open).toEqual([expect.objectContaining({ state: 'open', windowStart: at(150), windowEnd: at(200), resolvedAt: null })]);
    // Bursty: 10 panes on, 6 off; a gap of 6 is its normal.
    const bursty = series(300, (i) => (i % 16 < 10 ? 50 : 0));
    expect(evaluateSilence(bursty, 'silence', T0, at(300), settings)).toEqual([]);
    expect(evaluateSilence(stopped, 'silence', T0, at(200), detectionSettings({ silencePanes: 0 }))).toEqual([]);
  });
});
