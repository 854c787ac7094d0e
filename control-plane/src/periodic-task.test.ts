import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { PeriodicTask } from './periodic-task.ts';

describe('PeriodicTask', () => {
  it('never overlaps runs, keeps going after a failure, and stop waits for the run in flight', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    let finished = 0;
    const errors: unknown[] = [];
    const task = new PeriodicTask({
      intervalMs: 5,
      immediate: true,
      run: async () => {
        runs += 1;
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(25);
        active -= 1;
        finished += 1;
        if (runs === 1) throw new Error('first run fails');
      },
      onError: (error) => errors.push(error),
    });
    task.start();
    task.start();
    expect(runs).toBe(1);
    await sleep(120);
    await task.stop();
    expect(maxActive).toBe(1);
    expect(runs).toBeGreaterThan(1);
    expect(finished).toBe(runs);
    expect(errors).toHaveLength(1);
    const after = runs;
    await sleep(30);
    expect(runs).toBe(after);
  });

  it('does nothing when the interval is 0 (switched off)', async () => {
    let runs = 0;
    const task = new PeriodicTask({ intervalMs: 0, immediate: true, run: async () => void (runs += 1), onError: () => undefined });
    task.start();
    await sleep(20);
    await task.stop();
    expect(runs).toBe(0);
  });
});
