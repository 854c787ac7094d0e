import { describe, expect, it } from 'vitest';
import { addValue, emptySketch, mergeSketch, quantile, sketchCount } from './ddsketch.ts';
import { addToRegisters, estimateDistinct, hllState, mergeHll, newRegisters } from './hyperloglog.ts';

/** A deterministic spread of values over several orders of magnitude, negatives and zeros included. */
function values(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, (_, i) => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    const v = (x / 2 ** 31) * 10 ** ((i % 5) - 1);
    return i % 17 === 0 ? -v : i % 23 === 0 ? 0 : v;
  });
}

describe('DDSketch', () => {
  it('answers every quantile within 1 % of the exact value of that rank', () => {
    const all = values(20_000, 7);
    const sketch = emptySketch();
    for (const v of all) addValue(sketch, v);
    const sorted = [...all].sort((a, b) => a - b);
    for (const q of [0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))]!;
      expect(Math.abs(quantile(sketch, q)! - exact)).toBeLessThanOrEqual(Math.abs(exact) * 0.01 + 1e-12);
    }
    expect(quantile(emptySketch(), 0.5)).toBeNull();
  });

  it('merged sketches equal one sketch over all values, in any order', () => {
    const parts = [values(3_000, 1), values(5_000, 2), values(1_000, 3)];
    const whole = emptySketch();
    for (const v of parts.flat()) addValue(whole, v);
    const sketches = parts.map((p) => {
      const s = emptySketch();
      for (const v of p) addValue(s, v);
      return s;
    });
    const ab = mergeSketch(mergeSketch(emptySketch(), sketches[0]!), sketches[1]!);
    const abc = mergeSketch(ab, sketches[2]!);
    const cba = mergeSketch(mergeSketch(mergeSketch(emptySketch(), sketches[2]!), sketches[1]!), sketches[0]!);
    expect(sketchCount(abc)).toBe(9_000);
    for (const q of [0.5, 0.95, 0.99]) {
      expect(quantile(abc, q)).toBe(quantile(whole, q));
      expect(quantile(cba, q)).toBe(quantile(whole, q));
    }
  });
});

describe('HyperLogLog', () => {
  it('counts small sets (nearly) exactly and large ones within 5 %', () => {
    for (const n of [0, 1, 10, 150]) {
      const r = newRegisters();
      for (let i = 0; i < n; i++) addToRegisters(r, `user-${i}`);
      // Linear counting: two values sharing one of the 2048 registers is all that can make it miss.
      expect(Math.abs(estimateDistinct(hllState(r)) - n)).toBeLessThanOrEqual(n / 50);
    }
    const r = newRegisters();
    for (let i = 0; i < 100_000; i++) addToRegisters(r, `user-${i % 50_000}`);
    expect(Math.abs(estimateDistinct(hllState(r)) - 50_000) / 50_000).toBeLessThan(0.05);
  });

  it('merges sparse and dense states into what one sketch of the union gives', () => {
    const a = newRegisters();
    const b = newRegisters();
    const u = newRegisters();
    for (let i = 0; i < 5_000; i++) {
      addToRegisters(i < 3_000 ? a : b, `v${i}`);
      addToRegisters(u, `v${i}`);
    }
    const few = newRegisters();
    for (let i = 0; i < 20; i++) addToRegisters(few, `v${i}`);
    expect(mergeHll(hllState(a), hllState(b))).toEqual(hllState(u));
    expect(mergeHll(hllState(few), hllState(u))).toEqual(hllState(u));
    expect('s' in hllState(few)).toBe(true);
    expect('d' in hllState(u)).toBe(true);
  });
});
