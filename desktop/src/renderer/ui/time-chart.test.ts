import { describe, expect, it } from 'vitest';
import { dataRange, xRange } from './time-chart.tsx';

describe('xRange', () => {
  it('spans the samples', () => {
    expect(xRange([100, 160, 400])).toEqual([100, 400]);
  });

  it('gives a lone sample a minute each side, not uPlot\u2019s years of padding', () => {
    expect(xRange([1_800_000_000])).toEqual([1_799_999_940, 1_800_000_060]);
  });

  it('shows the last five minutes when there is nothing yet', () => {
    const [from, to] = xRange([]);
    expect(to - from).toBe(300);
    expect(Math.abs(to - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('dataRange', () => {
  it('pads a measure\u2019s own range by a tenth either side instead of starting at zero', () => {
    expect(dataRange(18, 28)).toEqual([17, 29]);
    expect(dataRange(-5, -5)).toEqual([-6, -4]); // a flat line: at least one unit either side
    expect(dataRange(null, null)).toEqual([0, 1]);
  });
});
