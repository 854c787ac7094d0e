import { describe, expect, it } from 'vitest';
import { progressOf } from './job-store.ts';

const at = (s: number): Date => new Date(Date.UTC(2026, 0, 1) + s * 1000);
const batches = { total: 4, pending: 1, running: 1, done: 2, failed: 0, cancelled: 0 };
const row = { ...batches, records: '600', bytes: '6000', done_bytes: '5000', planned_records: null, planned_bytes: null, started_at: at(0), planned_at: at(10), finished_at: null, now: at(40), state: 'running' as const };

describe('job progress', () => {
  it('rates over the time since planning, percent and ETA from the planned bytes', () => {
    const p = progressOf({ ...row, planned_bytes: '24000' });
    expect(p).toMatchObject({ records: 600, bytes: 6000, recordsPerSecond: 20, bytesPerSecond: 200, percent: 25, etaSeconds: 90, plannedBytes: 24000 });
  });

  it('falls back to planned records, then to settled batches', () => {
    expect(progressOf({ ...row, planned_records: '1200' })).toMatchObject({ percent: 50, etaSeconds: 30 });
    expect(progressOf(row)).toMatchObject({ percent: 50, etaSeconds: 30 });
  });

  it('has no ETA before a batch settles, nor once the job ended; a succeeded job is 100%', () => {
    expect(progressOf({ ...row, done: 0, running: 2, pending: 2 }).etaSeconds).toBeNull();
    const done = progressOf({ ...row, pending: 0, running: 0, done: 4, state: 'succeeded', finished_at: at(20) });
    expect(done).toMatchObject({ percent: 100, etaSeconds: null, recordsPerSecond: 60 });
    expect(progressOf({ ...row, planned_at: null, started_at: null, state: 'created', total: 0, pending: 0, running: 0, done: 0 })).toMatchObject({ recordsPerSecond: 0, percent: null, etaSeconds: null });
  });
});
