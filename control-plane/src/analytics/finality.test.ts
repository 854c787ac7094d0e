import { describe, expect, it } from 'vitest';
import { finalBeforeOf, isFinal, latenessOf, watermarkOf } from './finality.ts';

const MIN = 60_000;
const now = Date.UTC(2026, 11, 3, 12, 0, 0);
const lateness = { graceMs: MIN, finalAfterMs: 10 * MIN };

describe('pane finality', () => {
  it('takes the slowest active stream, an idle report moving a stream on', () => {
    const fast = { maxEventTime: now - 1 * MIN, idleThrough: undefined, updatedAt: now };
    const slow = { maxEventTime: now - 5 * MIN, idleThrough: undefined, updatedAt: now - MIN };
    expect(watermarkOf([fast, slow], now, lateness.finalAfterMs)).toBe(now - 5 * MIN);
    expect(watermarkOf([fast, { ...slow, idleThrough: now - 30_000 }], now, lateness.finalAfterMs)).toBe(now - MIN);
    // An idle report older than what was loaded changes nothing.
    expect(watermarkOf([{ ...fast, idleThrough: now - 20 * MIN }], now, lateness.finalAfterMs)).toBe(now - MIN);
  });

  it('leaves out streams that loaded nothing within the wall-clock limit', () => {
    const gone = { maxEventTime: now - 60 * MIN, idleThrough: undefined, updatedAt: now - 11 * MIN };
    const live = { maxEventTime: now - 2 * MIN, idleThrough: undefined, updatedAt: now };
    expect(watermarkOf([gone, live], now, lateness.finalAfterMs)).toBe(now - 2 * MIN);
    expect(watermarkOf([gone], now, lateness.finalAfterMs)).toBeUndefined();
  });

  it('closes a pane once the watermark passes its end plus the grace, or by the wall-clock limit', () => {
    const pane = now - 5 * MIN;
    expect(isFinal(pane, finalBeforeOf(pane + MIN + lateness.graceMs, lateness, now))).toBe(true);
    expect(isFinal(pane, finalBeforeOf(pane + MIN + lateness.graceMs - 1, lateness, now))).toBe(false);
    // No watermark at all: the limit.
    expect(isFinal(now - 11 * MIN, finalBeforeOf(undefined, lateness, now))).toBe(true);
    expect(isFinal(now - 10 * MIN, finalBeforeOf(undefined, lateness, now))).toBe(false);
    // A watermark stuck far back: the limit still closes panes.
    expect(isFinal(now - 11 * MIN, finalBeforeOf(now - 60 * MIN, lateness, now))).toBe(true);
    // Event times ahead of the clock close nothing beyond now minus the grace.
    expect(finalBeforeOf(now + 60 * MIN, lateness, now)).toBe(now - lateness.graceMs);
  });

  it('reads the dataset settings with their defaults', () => {
    expect(latenessOf({})).toEqual({ graceMs: 60_000, finalAfterMs: 600_000 });
    expect(latenessOf({ lateness: { graceSeconds: 0, finalAfterSeconds: 3600 } })).toEqual({ graceMs: 0, finalAfterMs: 3_600_000 });
  });
});
