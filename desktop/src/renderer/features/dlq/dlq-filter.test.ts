import { describe, expect, it } from 'vitest';
import { apiFilter, countsFilter, describeFilter, NO_FILTER, withPeriod } from './dlq-filter.ts';

const NOW = Date.parse('2026-12-02T12:00:00.000Z');

describe('the DLQ filter', () => {
  it('sends only what is set; by default the entries still waiting (never replayed)', () => {
    expect(apiFilter(NO_FILTER)).toEqual({ replayed: false });
    expect(apiFilter({ ...NO_FILTER, waitingOnly: false })).toEqual({});
    expect(apiFilter({ ...withPeriod({ ...NO_FILTER, dataset: 'meters', reasonKind: 'schema' }, '24h', NOW) })).toEqual({
      dataset: 'meters',
      reasonKind: 'schema',
      since: '2026-12-01T12:00:00.000Z',
      replayed: false,
    });
  });

  it('fixes the period start when it is chosen, and clears it for any time', () => {
    const lastHour = withPeriod(NO_FILTER, '1h', NOW);
    expect(lastHour.since).toBe('2026-12-02T11:00:00.000Z');
    expect(withPeriod(lastHour, 'all', NOW)).toEqual({ ...NO_FILTER, period: 'all', since: undefined });
  });

  it('counts by reason over the dataset and period only: the counts are the split by reason', () => {
    expect(countsFilter(withPeriod({ ...NO_FILTER, dataset: 'meters', reasonKind: 'parse' }, '7d', NOW))).toEqual({ dataset: 'meters', since: '2026-11-25T12:00:00.000Z' });
    expect(countsFilter(NO_FILTER)).toEqual({});
  });

  it('describes what it selects in words', () => {
    expect(describeFilter(NO_FILTER)).toBe('entries of every dataset, never replayed');
    expect(describeFilter({ ...withPeriod(NO_FILTER, '1h', NOW), dataset: 'meters', reasonKind: 'schema', waitingOnly: false })).toBe('entries of meters, reason schema, last hour');
  });
});
