import { describe, expect, it } from 'vitest';
import type { DatasetHealth, PipelineHealthReport } from '@sluice/shared/api/fleet-health';
import type { RolloutView } from '../../api/pipeline.ts';
import { addLagSamples, minuteSeries, rolloutMarks } from './health-series.ts';

const at = '2026-12-02T10:04:30.000Z';
const t = (iso: string) => Date.parse(iso) / 1000;
const dataset = (perMinute: DatasetHealth['perMinute'], lag: DatasetHealth['lag'] = null): DatasetHealth => ({
  dataset: 'sensors',
  totals: { ingested: 0, deadLettered: 0, validationFailures: 0, sinkErrors: {} },
  deadLetteredByKind: {},
  perMinute,
  lag,
});
const report = (datasets: DatasetHealth[], when = at, minutes = 5): PipelineHealthReport => ({ minutes, at: when, datasets, lagError: null });

describe('chart data shaping', () => {
  it('fills every minute of the window, quiet minutes as zeros, sink errors summed over sinks', () => {
    const d = dataset([
      { minute: '2026-12-02T10:01:00.000Z', ingested: 120, deadLettered: 3, validationFailures: 2, sinkErrors: { search: { failedWrites: 1, rejected: 1 }, postgres: { failedWrites: 0, rejected: 1 } } },
      { minute: '2026-12-02T10:04:00.000Z', ingested: 60, deadLettered: 0, validationFailures: 0, sinkErrors: {} },
    ]);
    expect(minuteSeries(d, report([d]))).toEqual({
      x: [t('2026-12-02T10:00:00Z'), t('2026-12-02T10:01:00Z'), t('2026-12-02T10:02:00Z'), t('2026-12-02T10:03:00Z'), t('2026-12-02T10:04:00Z')],
      ingested: [0, 120, 0, 0, 60],
      validationFailures: [0, 2, 0, 0, 0],
      sinkErrors: [0, 3, 0, 0, 0],
    });
  });

  it('keeps one lag sample per answer, within the window, and none for a dataset Kafka could not measure', () => {
    const lag = (records: number) => ({ records, seconds: records / 10, partitions: [] });
    let seen = addLagSamples(new Map(), report([dataset([], lag(50))], '2026-12-02T10:00:00Z'));
    seen = addLagSamples(seen, report([dataset([], lag(20))], '2026-12-02T10:02:00Z'));
    seen = addLagSamples(seen, report([dataset([], lag(20))], '2026-12-02T10:02:00Z'));
    expect(seen.get('sensors')).toEqual([
      { at: t('2026-12-02T10:00:00Z'), records: 50, seconds: 5 },
      { at: t('2026-12-02T10:02:00Z'), records: 20, seconds: 2 },
    ]);
    seen = addLagSamples(seen, report([dataset([], null)], '2026-12-02T10:06:00Z'));
    expect(seen.get('sensors')).toEqual([{ at: t('2026-12-02T10:02:00Z'), records: 20, seconds: 2 }]);
  });

  it('marks each rollout start and end inside the window', () => {
    const rollout = (id: number, state: RolloutView['state'], createdAt: string, finishedAt: string | null) =>
      ({ id, policy: 'default', toRevision: id + 1, state, createdAt, finishedAt }) as RolloutView;
    const marks = rolloutMarks(
      [rollout(1, 'rolled-back', '2026-12-02T10:01:00Z', '2026-12-02T10:03:00Z'), rollout(2, 'running', '2026-12-02T10:04:00Z', null), rollout(0, 'completed', '2026-12-02T08:00:00Z', '2026-12-02T08:05:00Z')],
      t('2026-12-02T10:00:00Z'),
      t('2026-12-02T10:05:00Z'),
    );
    expect(marks).toEqual([
      { at: t('2026-12-02T10:01:00Z'), label: 'rollout default r2', kind: 'start' },
      { at: t('2026-12-02T10:03:00Z'), label: 'default r2 rolled-back', kind: 'rolled-back' },
      { at: t('2026-12-02T10:04:00Z'), label: 'rollout default r3', kind: 'start' },
    ]);
  });
});
