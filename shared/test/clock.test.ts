import { describe, expect, it } from 'vitest';
import { systemClock } from '@sluice/shared/clock';
import { ManualClock } from '@sluice/shared/node/testing/manual-clock';

describe('systemClock', () => {
  it('sleeps, and an abort rejects with the signal reason', async () => {
    const started = Date.now();
    await systemClock.sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    const ac = new AbortController();
    const sleeping = systemClock.sleep(60_000, { signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(sleeping).rejects.toThrow('stop');
    await expect(systemClock.sleep(1, { signal: ac.signal })).rejects.toThrow('stop');
  });
});

describe('ManualClock', () => {
  it('wakes sleepers only when time is advanced past their deadline, earliest first', async () => {
    const clock = new ManualClock(1_000);
    const woke: number[] = [];
    void clock.sleep(300).then(() => woke.push(300));
    void clock.sleep(100).then(() => woke.push(100));
    await clock.untilSleeping(2);
    expect(clock.sleeping).toEqual([{ ms: 100, wakeAt: 1_100 }, { ms: 300, wakeAt: 1_300 }]);
    clock.advance(99);
    await Promise.resolve();
    expect(woke).toEqual([]);
    clock.advance(250);
    await new Promise((r) => setImmediate(r));
    expect(woke).toEqual([100, 300]);
    expect(clock.now()).toBe(1_349);
    expect(clock.sleeping).toEqual([]);
  });

  it('an aborted sleep rejects and stops waiting', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const sleeping = clock.sleep(1_000, { signal: ac.signal });
    ac.abort(new Error('gone'));
    await expect(sleeping).rejects.toThrow('gone');
    expect(clock.sleeping).toEqual([]);
  });
});
