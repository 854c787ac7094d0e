import { describe, expect, it } from 'vitest';
import type { AnomalyItem, WindowFigures } from '../../api/analytics.ts';
import {
  anomalyMarks,
  describeSeries,
  figureOptions,
  figureText,
  groupSeries,
  groupsByVolume,
  parseFigure,
} from './analytics-view.ts';

const T0 = Date.parse('2026-12-01T10:00:00Z');
const w = (minute: number, site: string, count: number, avg: number | null, devices = 3): WindowFigures => ({
  start: new Date(T0 + minute * 60_000).toISOString(),
  end: new Date(T0 + (minute + 5) * 60_000).toISOString(),
  group: { '/site': site },
  count,
  lateRows: 0,
  measures: {
    '/temperature': { count, sum: (avg ?? 0) * count, min: avg, max: avg, avg, p50: avg, p95: avg, p99: avg },
  },
  distinct: { '/device': devices },
});

const anomaly = (over: Partial<AnomalyItem>): AnomalyItem => ({
  series: 'volume',
  kind: 'volume',
  key: '',
  direction: 'high',
  windowStart: new Date(T0 + 5 * 60_000).toISOString(),
  windowEnd: new Date(T0 + 7 * 60_000).toISOString(),
  observed: 900,
  expected: 300,
  bandLow: 250,
  bandHigh: 350,
  score: 12.5,
  state: 'open',
  openedAt: new Date(T0 + 6 * 60_000).toISOString(),
  resolvedAt: null,
  updatedAt: new Date(T0 + 8 * 60_000).toISOString(),
  ...over,
});

describe('analytics view', () => {
  it('offers the count, each measure statistic (percentiles only where kept) and each distinct count', () => {
    const options = figureOptions({
      name: 'by_site',
      groupBy: ['/site'],
      measures: [
        { field: '/temperature', percentiles: true },
        { field: '/meta/humidity', percentiles: false },
      ],
      distinct: ['/device'],
    });
    expect(options.map(([, label]) => label)).toEqual([
      'records',
      'temperature avg',
      'temperature min',
      'temperature max',
      'temperature p50',
      'temperature p95',
      'temperature p99',
      'meta.humidity avg',
      'meta.humidity min',
      'meta.humidity max',
      'distinct device',
    ]);
    expect(parseFigure(options[5]![0])).toEqual({ kind: 'measure', field: '/temperature', stat: 'p95' });
    expect(parseFigure('distinct|/device')).toEqual({ kind: 'distinct', field: '/device' });
    expect(parseFigure('count')).toEqual({ kind: 'count' });
  });

  it('draws one series per group over every window start: counts fill gaps with 0, measures leave them', () => {
    const windows = [
      w(0, 'berlin', 10, 20),
      w(0, 'paris', 4, 15),
      w(5, 'berlin', 12, 21),
      w(10, 'paris', 6, 16),
    ];
    const counts = groupSeries(windows, { kind: 'count' });
    expect(counts.x).toEqual([0, 5, 10].map((m) => (T0 + m * 60_000) / 1000));
    expect(counts.series).toEqual([
      { label: 'berlin', values: [10, 12, 0] },
      { label: 'paris', values: [4, 0, 6] },
    ]);
    expect(groupSeries(windows, { kind: 'measure', field: '/temperature', stat: 'avg' }).series[1]).toEqual({
      label: 'paris',
      values: [15, null, 16],
    });
    expect(groupSeries(windows, { kind: 'distinct', field: '/device' }, 'paris')).toMatchObject({
      series: [{ label: 'paris', values: [3, null, 3] }],
      groups: 2,
      drawn: 1,
    });
  });

  it('draws the busiest groups when there are many, and lists the groups busiest first', () => {
    const windows = Array.from({ length: 10 }, (_, i) => w(0, `site-${String(i)}`, i + 1, 20));
    const chart = groupSeries(windows, { kind: 'count' });
    expect(chart.drawn).toBe(6);
    expect(chart.groups).toBe(10);
    expect(chart.series.map((s) => s.label)).toEqual([
      'site-9',
      'site-8',
      'site-7',
      'site-6',
      'site-5',
      'site-4',
    ]);
    expect(groupsByVolume(windows).slice(0, 2)).toEqual(['site-9', 'site-8']);
    expect(groupSeries([{ ...w(0, 'x', 1, 1), group: {} }], { kind: 'count' }).series[0]!.label).toBe(
      'all records',
    );
  });

  it('puts anomalies in words and on the chart, open ones red, only those in range', () => {
    expect(describeSeries({ kind: 'measure', key: 'by_site|/temperature|avg|["berlin"]' })).toBe(
      'temperature avg of berlin (by_site)',
    );
    expect(describeSeries({ kind: 'measure', key: 'volume|/latency_ms|p95|[]' })).toBe(
      'latency_ms p95 (volume)',
    );
    expect(describeSeries({ kind: 'agent_volume', key: 'gw-7' })).toBe('agent gw-7 volume');
    expect(describeSeries({ kind: 'agent_silence', key: 'gw-7' })).toBe('agent gw-7 silent');
    expect(describeSeries({ kind: 'group_silence', key: 'by_device|["dev-00003"]' })).toBe('dev-00003 silent (by_device)');
    expect(describeSeries({ kind: 'group_volume', key: 'by_site|["berlin","t1"]' })).toBe('berlin / t1 volume (by_site)');
    const marks = anomalyMarks(
      [
        anomaly({}),
        anomaly({
          state: 'resolved',
          kind: 'silence',
          direction: 'silent',
          windowStart: new Date(T0 + 60_000).toISOString(),
        }),
        anomaly({ windowStart: new Date(T0 - 3_600_000).toISOString() }),
      ],
      T0 / 1000,
      T0 / 1000 + 3600,
    );
    expect(marks).toEqual([
      { at: T0 / 1000 + 60, label: 'silence silent', colour: '#6e7781' },
      { at: T0 / 1000 + 300, label: 'volume high', colour: '#c62828' },
    ]);
  });

  it('writes figures with sensible digits', () => {
    expect([
      figureText(1234),
      figureText(21.456),
      figureText(123.4),
      figureText(0.01234),
      figureText(null),
    ]).toEqual(['1,234', '21.46', '123', '0.0123', '—']);
  });
});
