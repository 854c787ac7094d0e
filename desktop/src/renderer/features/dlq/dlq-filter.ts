/**
 * The DLQ screen's filter as the operator sets it, and what it means to each route: the list and the dry
 * run and replay take it whole; the counts by reason take its dataset and time only (they are the split
 * by reason).
 */
import type { DlqFilter, ReasonKind } from '../../api/dlq.ts';

export type Period = 'all' | '1h' | '24h' | '7d' | '30d';

export const PERIODS: ReadonlyArray<[Period, string]> = [
  ['all', 'any time'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
];

const PERIOD_MS: Record<Exclude<Period, 'all'>, number> = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };

export interface DlqScreenFilter {
  dataset: string;
  reasonKind: ReasonKind | '';
  period: Period;
  /** The period's start, fixed when the period was chosen (so the list does not shift on every refresh). */
  since: string | undefined;
  /** Only entries never replayed: what is still waiting. */
  waitingOnly: boolean;
}

export const NO_FILTER: DlqScreenFilter = { dataset: '', reasonKind: '', period: 'all', since: undefined, waitingOnly: true };

export function withPeriod(filter: DlqScreenFilter, period: Period, now: number): DlqScreenFilter {
  return { ...filter, period, since: period === 'all' ? undefined : new Date(now - PERIOD_MS[period]).toISOString() };
}

/** The filter as the API takes it: what is not set is left out. */
export function apiFilter(filter: DlqScreenFilter): DlqFilter {
  return {
    ...(filter.dataset === '' ? {} : { dataset: filter.dataset }),
    ...(filter.reasonKind === '' ? {} : { reasonKind: filter.reasonKind }),
    ...(filter.since === undefined ? {} : { since: filter.since }),
    ...(filter.waitingOnly ? { replayed: false } : {}),
  };
}

export function countsFilter(filter: DlqScreenFilter): Pick<DlqFilter, 'dataset' | 'since'> {
  const { dataset, since } = apiFilter(filter);
  return { ...(dataset === undefined ? {} : { dataset }), ...(since === undefined ? {} : { since }) };
}

/** Words for what the filter selects, e.g. "entries of orders, reason schema, never replayed". */
export function describeFilter(filter: DlqScreenFilter): string {
  const parts = [
    filter.dataset === '' ? 'entries of every dataset' : `entries of ${filter.dataset}`,
    ...(filter.reasonKind === '' ? [] : [`reason ${filter.reasonKind}`]),
    ...(filter.period === 'all' ? [] : [PERIODS.find(([p]) => p === filter.period)?.[1] ?? filter.period]),
    ...(filter.waitingOnly ? ['never replayed'] : []),
  ];
  return parts.join(', ');
}
